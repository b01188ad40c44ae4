package bench

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times; Linux fixes it at
// 100 on every architecture Go supports.
const clockTicks = 100

// emulatorProc is the Firestore emulator's name in the CPU figures.
const emulatorProc = "firestore-emulator"

// procCPU is the CPU time (user + system) process pid has used, in clock
// ticks, or -1 when it cannot be read.
func procCPU(pid int) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// "pid (comm) state ...": comm may hold spaces, so count fields after
	// the last ')'. utime and stime are the 12th and 13th after comm.
	f := bytes.Fields(raw[bytes.LastIndexByte(raw, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	s, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return u + s
}

// machineBusy is the CPU time the whole machine spent not idle, in clock
// ticks, from /proc/stat's first line: user nice system idle iowait irq
// softirq steal, all but idle and iowait work.
func machineBusy() int64 {
	raw, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(raw), "\n")
	var busy int64
	for i, v := range strings.Fields(line) {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && i >= 1 && i <= 8 && i != 4 && i != 5 {
			busy += n
		}
	}
	return busy
}

// peakMemory is a process's peak resident set size (VmHWM), in bytes.
func peakMemory(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	_, rest, _ := strings.Cut(string(raw), "VmHWM:")
	rest, _, _ = strings.Cut(rest, "kB")
	kb, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/status VmHWM: %w", pid, err)
	}
	return kb << 10, nil
}

// resetPeakMemory makes a process's VmHWM its current resident size
// (Linux's clear_refs value 5), so a later peak is the peak since now.
func resetPeakMemory(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5\n"), 0)
}

// listenerPID finds the process listening on hostport's TCP port on this
// machine, by the socket's inode: the Java process behind an emulator,
// which runs under a wrapper or two.
func listenerPID(hostport string) (int, error) {
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return 0, err
	}
	p, _ := strconv.Atoi(port)
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, _ := os.ReadFile(table)
		for _, line := range strings.Split(string(raw), "\n") {
			// sl local_address rem_address st(0A: listening) ... inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if n, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(n) == p {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		fds, _ := os.ReadDir("/proc/" + e.Name() + "/fd")
		for _, fd := range fds {
			if l, err := os.Readlink("/proc/" + e.Name() + "/fd/" + fd.Name()); err == nil && inodes[l] {
				return strconv.Atoi(e.Name())
			}
		}
	}
	return 0, fmt.Errorf("no process listens on port %s", port)
}

// cpuWatch are the processes a benchmark runs on, by the name a report
// shows, so each phase can say where the machine's time went.
type cpuWatch map[string]int

type cpuSample struct {
	at    time.Time
	ticks map[string]int64
	busy  int64
}

func (w cpuWatch) sample() cpuSample {
	s := cpuSample{at: time.Now(), ticks: map[string]int64{}, busy: machineBusy()}
	for name, pid := range w {
		if t := procCPU(pid); t >= 0 {
			s.ticks[name] = t
		}
	}
	return s
}

// cores is how many cores each process used on average between two
// samples; "machine" is the whole machine's busy time and "others" what
// processes not watched used (other work on a shared machine).
func (s cpuSample) cores(since cpuSample) map[string]float64 {
	wall := s.at.Sub(since.at).Seconds()
	if wall <= 0 {
		return nil
	}
	out := map[string]float64{}
	var ours float64
	for name, t := range s.ticks {
		if t0, ok := since.ticks[name]; ok {
			c := float64(t-t0) / clockTicks / wall
			out[name] = round(c, 2)
			ours += c
		}
	}
	machine := float64(s.busy-since.busy) / clockTicks / wall
	out["machine"] = round(machine, 2)
	out["others"] = round(max(0, machine-ours), 2)
	return out
}

// topCores lists the n largest users of at least 0.01 core first, as
// "name 1.23".
func topCores(c map[string]float64, n int) string {
	keys := slices.SortedFunc(maps.Keys(c), func(a, b string) int { return cmp.Compare(c[b], c[a]) })
	var parts []string
	for _, k := range keys {
		if k != "machine" && c[k] >= 0.01 && len(parts) < n {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, c[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// serveLoopback serves h on a free loopback port, which the dev stack lets
// callbacks reach (CALLBACK_ALLOW_LOOPBACK), until the run ends.
func (b *Bench) serveLoopback(h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	b.closers = append(b.closers, func() { _ = srv.Close() })
	return "http://" + l.Addr().String(), nil
}

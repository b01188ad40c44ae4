package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times; Linux fixes it at
// 100 on every architecture Go supports.
const clockTicks = 100

// procCPU is the CPU time (user + system) process pid has used, in clock
// ticks.
func procCPU(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ..." : comm may hold spaces, so count fields after
	// the last ')'. utime and stime are fields 14 and 15 of the line, the
	// 12th and 13th after comm.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := bytes.Fields(raw[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	u, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	s, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return u + s, nil
}

// machineBusy is the CPU time the whole machine spent not idle, in clock
// ticks, from /proc/stat.
func machineBusy() (int64, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: unexpected format")
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait are work.
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += n
	}
	return busy, nil
}

// peakMemory is a process's peak resident set size (VmHWM), in bytes.
func peakMemory(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status VmHWM: %w", pid, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// resetPeakMemory makes a process's VmHWM its current resident size
// (Linux's clear_refs value 5), so a later peak is the peak since now.
func resetPeakMemory(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5\n"), 0)
}

// listenerPID finds the process listening on TCP port hostport's port on
// this machine, by the socket's inode: the Java process behind an
// emulator, which runs under a wrapper or two.
func listenerPID(hostport string) (int, error) {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st ... inode (field 9)
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if n, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(n) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on port %d", port)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir("/proc/" + e.Name() + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink("/proc/" + e.Name() + "/fd/" + fd.Name()); err == nil && inodes[l] {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no process owns the socket listening on port %d", port)
}

// cpuWatch reads the CPU time of the processes a benchmark runs on, so
// each phase can say where the machine's time went.
type cpuWatch struct {
	pids map[string]int // by the name a report shows
}

type cpuSample struct {
	at    time.Time
	ticks map[string]int64
	busy  int64
}

func (w *cpuWatch) sample() cpuSample {
	s := cpuSample{at: time.Now(), ticks: map[string]int64{}}
	for name, pid := range w.pids {
		if t, err := procCPU(pid); err == nil {
			s.ticks[name] = t
		}
	}
	s.busy, _ = machineBusy()
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

// topCores lists the largest users first, as "name 1.23".
func topCores(c map[string]float64, n int) string {
	type kv struct {
		k string
		v float64
	}
	var all []kv
	for k, v := range c {
		if k != "machine" && v >= 0.01 {
			all = append(all, kv{k, v})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var parts []string
	for i, e := range all {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}

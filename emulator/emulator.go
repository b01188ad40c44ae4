//go:build unix

// Package emulator runs the real Google Cloud Firestore and Pub/Sub
// emulators (through the gcloud CLI) on free local ports, for the dev
// command and for tests.
//
// gcloud is a Python wrapper that spawns a shell script that spawns Java,
// so each emulator runs in its own process group and is always stopped by
// signalling that whole group; stopping only the wrapper would leave the
// JVM holding the port.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure the emulators.
type Options struct {
	// DataDir keeps data across runs when set; "" runs in memory.
	// Firestore imports DataDir/firestore at start (when a snapshot is
	// there) and Stop exports Project into it. Pub/Sub gets
	// --data-dir DataDir/pubsub, but the Pub/Sub emulator keeps nothing
	// there except gcloud's env.yaml: topics and subscriptions never
	// survive a restart.
	DataDir string
	// Project is the project whose Firestore data Stop saves to DataDir;
	// required with DataDir. The emulator exports one project at a time
	// and its import seeds every project, so only one can be persisted.
	Project string
	// Stdout and Stderr receive the emulators' own logs; nil discards
	// them (the tail is still kept for error messages).
	Stdout, Stderr io.Writer
	// Port, when nonzero, is the port StartFirestore or StartPubSub binds
	// instead of a free one: restarting an emulator where running clients
	// already point. A taken port fails the start rather than moving the
	// emulator elsewhere. Start refuses it, as two emulators cannot share
	// one port.
	Port int

	ports func() (int, error) // FreePort; tests lose the port race with it
}

// Emulator is one running emulator process group.
type Emulator struct {
	// Host is the emulator's "127.0.0.1:PORT", the value of
	// FIRESTORE_EMULATOR_HOST or PUBSUB_EMULATOR_HOST.
	Host string

	name string
	cmd  *exec.Cmd
	pgid int
	out  *output
	done chan struct{} // closed once the gcloud wrapper is reaped
	// waitErr is the wrapper's exit error, readable once done is closed.
	waitErr error

	watchdog     *exec.Cmd
	watchdogPipe *os.File // closing it (or our death) fires the watchdog

	beforeStop func() error // Firestore export into DataDir
	afterStop  func()       // removes a temporary data dir

	stopOnce sync.Once
	stopErr  error
}

const (
	readyTimeout = 60 * time.Second
	// stopGrace is how long Stop lets the emulator shut down on SIGTERM
	// before it kills the group; both exit in about 2 s.
	stopGrace = 10 * time.Second
	// goneTimeout bounds the wait for killed processes to disappear.
	goneTimeout = 10 * time.Second
	// portAttempts covers the race between FreePort releasing a port and
	// the JVM binding it.
	portAttempts = 3
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// for a process that binds it itself. It is chosen below the kernel's
// ephemeral range when there is room: a port in that range can be taken
// between this probe and the new owner's bind by any outgoing connection
// or port-0 listener on the machine (parallel test packages start
// emulators and servers all the time), where a port below it is taken
// only by a process that names it.
func FreePort() (int, error) {
	if low := ephemeralLow(); low-fixedPortsFrom >= 1000 {
		for range 64 {
			port := fixedPortsFrom + rand.IntN(low-fixedPortsFrom)
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err == nil {
				l.Close()
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// fixedPortsFrom is the lowest port FreePort picks: above the ports
// services commonly listen on.
const fixedPortsFrom = 20000

// ephemeralLow is the first port of the kernel's ephemeral range
// (Linux's default when it cannot be read).
func ephemeralLow() int {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// StartFirestore starts the Firestore emulator and returns once it
// answers. ctx bounds the start only; the emulator runs until Stop.
func StartFirestore(ctx context.Context, opts Options) (*Emulator, error) {
	gcloud, err := preflight(firestoreInstall)
	if err != nil {
		return nil, err
	}
	var (
		extra []string
		data  *firestoreData
	)
	if opts.DataDir != "" {
		if opts.Project == "" {
			return nil, errors.New("emulator: Options.Project is required with DataDir: the Firestore emulator exports one project's data (its --export-on-exit saves nothing), so Stop needs to know which")
		}
		data, err = prepareFirestoreData(opts.DataDir, opts.Project)
		if err != nil {
			return nil, err
		}
		if data.importFile != "" {
			extra = append(extra, "--import-data="+data.importFile)
		}
	}
	e, err := start(ctx, "firestore", gcloud, opts, func(hostPort string) []string {
		return append([]string{"emulators", "firestore", "start", "--host-port=" + hostPort}, extra...)
	})
	if err != nil {
		return nil, err
	}
	if data != nil {
		e.beforeStop = func() error { return data.export(e.Host) }
	}
	return e, nil
}

// StartPubSub starts the Pub/Sub emulator and returns once it answers.
// ctx bounds the start only; the emulator runs until Stop.
func StartPubSub(ctx context.Context, opts Options) (*Emulator, error) {
	gcloud, err := preflight(pubsubInstall)
	if err != nil {
		return nil, err
	}
	// Without --data-dir gcloud writes env.yaml into the user's gcloud
	// config, so in-memory runs get a private directory instead.
	dir := opts.DataDir
	var cleanup func()
	if dir == "" {
		dir, err = os.MkdirTemp("", "templategw-pubsub-")
		if err != nil {
			return nil, fmt.Errorf("emulator: pubsub data dir: %w", err)
		}
		cleanup = func() { os.RemoveAll(dir) }
	} else {
		dir = dataSubdir(dir, "pubsub")
		// gcloud fails on a missing data dir instead of creating it.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("emulator: pubsub data dir: %w", err)
		}
	}
	e, err := start(ctx, "pubsub", gcloud, opts, func(hostPort string) []string {
		return []string{"beta", "emulators", "pubsub", "start", "--host-port=" + hostPort, "--data-dir=" + dir}
	})
	if err != nil {
		if cleanup != nil {
			cleanup()
		}
		return nil, err
	}
	e.afterStop = cleanup
	return e, nil
}

// start runs gcloud with args(host:port) on a free port until the
// emulator answers, retrying on a new port when the port was taken.
func start(ctx context.Context, name, gcloud string, opts Options, args func(hostPort string) []string) (*Emulator, error) {
	ports, attempts := opts.ports, portAttempts
	if ports == nil {
		ports = FreePort
	}
	if opts.Port != 0 {
		// Another port would not be where the clients point.
		ports, attempts = func() (int, error) { return opts.Port, nil }, 1
	}
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		port, err := ports()
		if err != nil {
			return nil, fmt.Errorf("emulator: %s: %w", name, err)
		}
		host := "127.0.0.1:" + strconv.Itoa(port)
		e, err := launch(name, gcloud, args(host), host, opts)
		if err != nil {
			return nil, err
		}
		err = e.waitReady(ctx)
		if err == nil {
			return e, nil
		}
		stopErr := e.Stop()
		if errors.Is(err, errPortTaken) && stopErr == nil {
			lastErr = err
			continue
		}
		return nil, errors.Join(err, stopErr)
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port already in use")

func launch(name, gcloud string, args []string, host string, opts Options) (*Emulator, error) {
	out := newOutput()
	cmd := exec.Command(gcloud, args...)
	// Prompts (for example to install a missing component) would wait
	// forever on a closed stdin.
	cmd.Env = append(os.Environ(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
	cmd.Stdout = out.writer(opts.Stdout)
	cmd.Stderr = out.writer(opts.Stderr)
	cmd.SysProcAttr = groupLeaderAttr()
	// The JVM inherits the output pipes; if it ever outlived the group
	// kill, Wait must not block on them forever.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator: start %s: %w", name, err)
	}
	e := &Emulator{Host: host, name: name, cmd: cmd, pgid: cmd.Process.Pid, out: out, done: make(chan struct{})}
	go func() {
		e.waitErr = cmd.Wait()
		close(e.done)
	}()
	if err := e.startWatchdog(); err != nil {
		_ = syscall.Kill(-e.pgid, syscall.SIGKILL)
		<-e.done
		return nil, fmt.Errorf("emulator: %s: %w", name, err)
	}
	return e, nil
}

// startWatchdog puts a shell into the emulator's process group that
// kills the group when the write end of its stdin closes, which the
// kernel does however this process dies (even SIGKILL or a test
// timeout). Pdeathsig alone reaches only the gcloud wrapper, never the
// JVM it spawned. The watchdog also keeps the group id alive, so Stop
// can signal the group without risking a reused id.
func (e *Emulator) startWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("watchdog pipe: %w", err)
	}
	defer r.Close()
	// The trap makes the watchdog (and its sleep) outlive the SIGTERM it
	// sends to its own group, so the SIGKILL follows.
	wd := exec.Command("/bin/sh", "-c", `trap '' TERM INT HUP; read -r _; kill -TERM 0; sleep 5; kill -KILL 0`)
	wd.Stdin = r
	wd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: e.pgid}
	if err := wd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start watchdog /bin/sh: %w", err)
	}
	e.watchdog, e.watchdogPipe = wd, w
	return nil
}

// waitReady polls GET http://HOST/ until it answers 200 "Ok", the
// process exits, the deadline passes or ctx ends.
func (e *Emulator) waitReady(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		// Another emulator may already answer on the port (two packages'
		// harnesses picked the same free port): only this process's own
		// word that it listens there makes the answer its own.
		if ok, _ := ping(ctx, client, e.Host); ok && e.out.contains(readyLine(e.name, e.Host)) {
			return nil
		}
		// The Pub/Sub JVM does not exit when its main thread fails to
		// bind, so the log is the only sign of a lost port race.
		if e.out.contains("java.net.BindException") {
			return fmt.Errorf("emulator: %s on %s: %w", e.name, e.Host, errPortTaken)
		}
		select {
		case <-e.done:
			if e.out.contains("java.net.BindException") {
				return fmt.Errorf("emulator: %s on %s: %w", e.name, e.Host, errPortTaken)
			}
			return fmt.Errorf("emulator: %s exited before it was ready (%v); its last output:\n%s", e.name, e.waitErr, e.out.tail())
		case <-ctx.Done():
			why := parent.Err()
			if why == nil {
				why = fmt.Errorf("not ready within %s", readyTimeout)
			}
			return fmt.Errorf("emulator: %s on %s: %w; its last output:\n%s", e.name, e.Host, why, e.out.tail())
		case <-tick.C:
		}
	}
}

// readyLine is what an emulator writes once it listens on host.
func readyLine(name, host string) string {
	if name == "pubsub" {
		_, port, _ := strings.Cut(host, ":")
		return "Server started, listening on " + port
	}
	return "API endpoint: http://" + host
}

func ping(ctx context.Context, client *http.Client, host string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	return resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "Ok", nil
}

// Stop saves Firestore data (with DataDir), then stops the whole process
// group: SIGTERM, SIGKILL after a grace period, and waits until no
// process of the group is left. It is idempotent and safe on nil.
func (e *Emulator) Stop() error {
	if e == nil {
		return nil
	}
	e.stopOnce.Do(func() { e.stopErr = e.stop() })
	return e.stopErr
}

func (e *Emulator) stop() error {
	var errs []error
	if e.beforeStop != nil {
		if err := e.beforeStop(); err != nil {
			errs = append(errs, fmt.Errorf("emulator: %s: %w", e.name, err))
		}
	}
	_ = syscall.Kill(-e.pgid, syscall.SIGTERM)
	// The wrapper dies at once on SIGTERM; the JVM takes a second or two
	// to shut down cleanly, so wait for the group rather than the wrapper.
	e.waitExited(stopGrace)
	// Also after a clean exit: stragglers go, and so does the watchdog
	// (which ignores SIGTERM).
	_ = syscall.Kill(-e.pgid, syscall.SIGKILL)
	<-e.done
	if e.watchdog != nil {
		_ = e.watchdog.Wait()
		e.watchdogPipe.Close()
	}
	// Killed grandchildren are reaped by init, not by us, so they may
	// linger for a moment after the kill.
	if err := waitGroupGone(e.pgid, goneTimeout); err != nil {
		errs = append(errs, fmt.Errorf("emulator: stop %s: %w", e.name, err))
	}
	if e.afterStop != nil {
		e.afterStop()
	}
	return errors.Join(errs...)
}

// waitExited waits until only the watchdog is left in the group.
func (e *Emulator) waitExited(timeout time.Duration) {
	if !canListGroup {
		select {
		case <-e.done:
		case <-time.After(timeout):
		}
		return
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		pids, err := groupMembers(e.pgid)
		if err != nil {
			return
		}
		if len(pids) == 0 || len(pids) == 1 && e.watchdog != nil && pids[0] == e.watchdog.Process.Pid {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitGroupGone(pgid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids, err := groupMembers(pgid)
		if err == nil && len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("process group %d: %w", pgid, err)
			}
			return fmt.Errorf("process group %d still has processes %v %s after SIGKILL", pgid, pids, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

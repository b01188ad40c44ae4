package devstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/templategw/templategw/emulator"
	"github.com/templategw/templategw/internal/app"
)

// processes are the running function servers.
type processes struct {
	exe  string
	env  []string
	logs io.Writer

	mu     sync.Mutex
	cmds   map[string]*exec.Cmd
	waited map[string]chan struct{} // closed when that process has exited
	ports  map[string]int
	killed map[string]bool // stopped on purpose: their exit is no failure
	// up says the process was seen listening on its port; an exit before
	// that is the start's to handle (startAttempts), not a failure to
	// report on exited.
	up     map[string]bool
	exited chan error
	done   chan struct{}
}

// startAttempts bounds the ports a function is started on: another
// process may take a port between its choice and the function's bind.
const startAttempts = 3

// errExitedEarly is a function process that ended before listening.
var errExitedEarly = errors.New("exited before listening")

// newProcesses returns processes that run exe's functions, none yet.
func newProcesses(exe string, env []string, logs io.Writer) *processes {
	return &processes{
		exe: exe, env: env, logs: logs,
		cmds: map[string]*exec.Cmd{}, waited: map[string]chan struct{}{}, ports: map[string]int{}, killed: map[string]bool{},
		up: map[string]bool{}, exited: make(chan error, len(app.Functions)), done: make(chan struct{}),
	}
}

func startFunctions(ctx context.Context, exe string, env []string, logs io.Writer) (*processes, error) {
	p := newProcesses(exe, env, logs)
	for _, f := range app.Functions {
		if err := p.start(f.Name, 0); err != nil {
			p.stop()
			return nil, err
		}
	}
	for _, f := range app.Functions {
		err := p.waitUp(ctx, f.Name, 30*time.Second)
		for attempt := 1; errors.Is(err, errExitedEarly) && attempt < startAttempts; attempt++ {
			if err = p.start(f.Name, 0); err == nil {
				err = p.waitUp(ctx, f.Name, 30*time.Second)
			}
		}
		if err != nil {
			p.stop()
			return nil, fmt.Errorf("function %s did not start: %w", f.Name, err)
		}
	}
	return p, nil
}

// start runs the function on port, or on a free port when port is 0.
func (p *processes) start(name string, port int) error {
	if port == 0 {
		var err error
		if port, err = emulator.FreePort(); err != nil {
			return err
		}
	}
	cmd := exec.Command(p.exe, "serve")
	cmd.Env = append(append(os.Environ(), p.env...), "FUNCTION_TARGET="+name, "PORT="+strconv.Itoa(port))
	// Its own process group, killed whole on stop; and killed with us if we
	// die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start function %s: %w", name, err)
	}
	go prefixLines(p.logs, "["+name+"] ", out)
	waited := make(chan struct{})
	p.mu.Lock()
	p.cmds[name], p.ports[name], p.waited[name], p.killed[name], p.up[name] = cmd, port, waited, false, false
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		expected := p.killed[name] || !p.up[name]
		p.mu.Unlock()
		select {
		case <-p.done:
		default:
			if !expected {
				p.exited <- fmt.Errorf("%s: %v", name, err)
			}
		}
		// Whoever waits for the exit sees it reported (or not) first.
		close(waited)
	}()
	return nil
}

// waitUp waits until the function's process listens on its port, and
// marks it up. errExitedEarly says the process ended first (another
// process had taken the port, say).
func (p *processes) waitUp(ctx context.Context, name string, limit time.Duration) error {
	p.mu.Lock()
	cmd, port, waited := p.cmds[name], p.ports[name], p.waited[name]
	p.mu.Unlock()
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-waited:
			return fmt.Errorf("%s on port %d: %w", name, port, errExitedEarly)
		default:
		}
		listening, known := listensOn(cmd.Process.Pid, port)
		if !known {
			// No /proc: a connection is the best there is.
			listening = accepts(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		}
		if listening {
			p.mu.Lock()
			p.up[name] = true
			p.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: nothing listening on port %d after %s", name, port, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends a function's process group with SIGKILL, as a crashed
// instance ends: no shutdown, in-flight requests cut.
func (p *processes) kill(name string) error {
	p.mu.Lock()
	cmd, ok := p.cmds[name]
	if ok {
		p.killed[name] = true
	}
	waited := p.waited[name]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("no function %s", name)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-waited
	return nil
}

// restart starts a killed function again on its port, so the front door
// and the push subscriptions reach it where they did.
func (p *processes) restart(ctx context.Context, name string) error {
	p.mu.Lock()
	port, ok := p.ports[name]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("no function %s", name)
	}
	if err := p.start(name, port); err != nil {
		return err
	}
	return p.waitUp(ctx, name, 30*time.Second)
}

// pid is the function's process id.
func (p *processes) pid(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.cmds[name]; ok && c.Process != nil {
		return c.Process.Pid
	}
	return 0
}

func (p *processes) addr(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "127.0.0.1:" + strconv.Itoa(p.ports[name])
}

func (p *processes) url(name string) string { return "http://" + p.addr(name) }

func (p *processes) urls() map[string]*url.URL {
	out := map[string]*url.URL{}
	for _, f := range app.Functions {
		if f.Kind != app.HTTP {
			continue // CloudEvent functions are reached through Pub/Sub only
		}
		u, _ := url.Parse(p.url(f.Name))
		out[f.Name] = u
	}
	return out
}

// stop ends every function process group: SIGTERM, then SIGKILL.
func (p *processes) stop() {
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		return
	default:
		close(p.done)
	}
	// The processes' exits take the lock: wait for them without it.
	cmds, waited := maps.Clone(p.cmds), maps.Clone(p.waited)
	p.mu.Unlock()
	for _, c := range cmds {
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for name, c := range cmds {
		select {
		case <-waited[name]:
		case <-time.After(time.Until(deadline)):
		}
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-waited[name]
	}
}

// accepts reports whether addr accepts a connection. It sends no
// request: a CloudEvent function would log an empty one as malformed.
func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func prefixLines(w io.Writer, prefix string, r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		fmt.Fprintln(w, prefix+s.Text())
	}
}

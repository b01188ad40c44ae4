package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// ProfileEnv, set to a directory in a function process's environment,
// makes ServeProfiling record CPU profiles into it when the benchmark asks.
const ProfileEnv = "TEMPLATEGW_BENCH_PROFILE"

// phaseName is what a profile file may be named after.
var phaseName = regexp.MustCompile(`^[a-z0-9-]{1,40}$`)

// ServeProfiling lets the benchmark profile a function process: when
// ProfileEnv names a directory it listens on a loopback port, written to
// DIR/<name>.addr, for POST /start?phase=P (begin a CPU profile into
// DIR/P-<name>.pprof) and POST /stop. Profiles cover exactly a phase's
// window, which a fixed-length profile endpoint cannot. Without
// ProfileEnv it does nothing.
func ServeProfiling(name string) error {
	dir := os.Getenv(ProfileEnv)
	if dir == "" {
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("profiling listener: %w", err)
	}
	var (
		mu  sync.Mutex
		out *os.File
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		phase := r.URL.Query().Get("phase")
		if !phaseName.MatchString(phase) {
			http.Error(w, "bad phase", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		stopProfile(out)
		f, err := startProfile(filepath.Join(dir, phase+"-"+name+".pprof"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		out = f
	})
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		stopProfile(out)
		out = nil
	})
	go func() { _ = http.Serve(l, mux) }()
	return os.WriteFile(filepath.Join(dir, name+".addr"), []byte(l.Addr().String()), 0o644)
}

// profiler starts and stops CPU profiles of the function processes and
// of the benchmark's own process (load generator, proxy, sandbox, front
// door) around a phase.
type profiler struct {
	dir   string
	addrs map[string]string // function → its profiling address
	self  *os.File
	hc    *http.Client
}

// newProfiler waits (briefly) for each function's address file.
func newProfiler(ctx context.Context, dir string, functions []string) (*profiler, error) {
	p := &profiler{dir: dir, addrs: map[string]string{}, hc: &http.Client{Timeout: 10 * time.Second}}
	for _, fn := range functions {
		stalled, err := poll(ctx, 10*time.Second, func() (bool, bool, error) {
			raw, err := os.ReadFile(filepath.Join(dir, fn+".addr"))
			p.addrs[fn] = strings.TrimSpace(string(raw))
			return false, err == nil && p.addrs[fn] != "", nil
		})
		if stalled {
			err = fmt.Errorf("function %s wrote no profiling address into %s (is the stack running a binary that calls bench.ServeProfiling?)", fn, dir)
		}
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *profiler) start(ctx context.Context, phase string) (err error) {
	if p.self, err = startProfile(filepath.Join(p.dir, phase+"-bench.pprof")); err != nil {
		return err
	}
	return p.each(ctx, "/start?phase="+phase)
}

func (p *profiler) stop(ctx context.Context) error {
	stopProfile(p.self)
	p.self = nil
	return p.each(ctx, "/stop")
}

// startProfile starts this process's CPU profile into a new file at path.
func startProfile(path string) (*os.File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// stopProfile ends the CPU profile startProfile began into f; nothing
// when f is nil.
func stopProfile(f *os.File) {
	if f != nil {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func (p *profiler) each(ctx context.Context, path string) error {
	var errs []error
	for fn, addr := range p.addrs {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, nil)
		resp, err := p.hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("profile %s: %w", fn, err))
		}
	}
	return errors.Join(errs...)
}

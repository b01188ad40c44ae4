package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws one line on a terminal, redrawn in place: a bar over the
// whole run (each phase weighted by how long it is expected to take), the
// current phase and what it is doing. Written to anything else (a file, a
// test's buffer) it prints a line per phase instead, which reads better in
// a log.
type progress struct {
	w   io.Writer
	tty bool

	mu      sync.Mutex
	weights map[string]float64
	total   float64
	done    float64 // weight of finished phases
	phase   string
	frac    float64
	label   string
	start   time.Time
	printed time.Time // the last line written, without a terminal
	stop    chan struct{}
	stopped chan struct{}
}

func newProgress(w io.Writer, weights map[string]float64) *progress {
	p := &progress{w: w, weights: weights, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	for _, v := range weights {
		p.total += v
	}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if w == nil {
		p.w = io.Discard
	}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.stopped)
	if !p.tty {
		<-p.stop
		return
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.draw()
			fmt.Fprintln(p.w)
			return
		case <-t.C:
			p.draw()
		}
	}
}

// begin ends the current phase and starts the named one.
func (p *progress) begin(phase, label string) {
	p.mu.Lock()
	if p.phase != "" {
		p.done += p.weights[p.phase]
	}
	p.phase, p.frac, p.label = phase, 0, label
	tty := p.tty
	p.mu.Unlock()
	if !tty {
		p.mu.Lock()
		p.printed = time.Now()
		fmt.Fprintf(p.w, "bench %s: %s\n", p.elapsedLocked(), label)
		p.mu.Unlock()
	}
}

// set reports how far the current phase is (0 to 1) and, when label is
// not empty, what it is doing now.
func (p *progress) set(frac float64, label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frac = min(max(frac, 0), 1)
	if label != "" {
		p.label = label
		// Without a terminal, a long phase still says how it is going,
		// twice a minute.
		if !p.tty && time.Since(p.printed) >= 30*time.Second {
			p.printed = time.Now()
			fmt.Fprintf(p.w, "bench %s: %s\n", p.elapsedLocked(), label)
		}
	}
}

// note prints a line above the bar (or in the log).
func (p *progress) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K"+format+"\n", args...)
		return
	}
	fmt.Fprintf(p.w, "bench %s: "+format+"\n", append([]any{p.elapsedLocked()}, args...)...)
}

func (p *progress) finish() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.stopped
}

func (p *progress) elapsedLocked() string {
	return time.Since(p.start).Round(time.Second).String()
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := 1.0
	if p.total > 0 {
		all = min(1, (p.done+p.frac*p.weights[p.phase])/p.total)
	}
	const width = 30
	filled := int(all * width)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	fmt.Fprintf(p.w, "\r\033[K%s %3.0f%% %6s  %s", bar, all*100, p.elapsedLocked(), p.label)
}

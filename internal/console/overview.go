package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// overviewView answers "how are my messages doing": today's and this
// month's sends by state with their delivered and read rates, this
// month's failures by Meta's code, billable messages by category, and
// what needs a person. Every number is a count aggregation or a bounded
// read; Figures holds each, keyed as the live script finds it.
type overviewView struct {
	page
	Today, Month period
	Failures     []failure
	// FailuresSampled is true when this month has more failures than the
	// sample the codes were found in: a rare code may be missing.
	FailuresSampled bool
	Billable        []categoryCount
	Attention       []domain.Channel
	Figures         map[string]string
}

// period is one span's sends by state.
type period struct {
	Key, Label string
	Since      time.Time
	ByState    map[domain.Status]int
}

// Total is every send of the period, whatever its state.
func (p period) Total() int {
	n := 0
	for _, c := range p.ByState {
		n += c
	}
	return n
}

// reached are the sends Meta has taken or refused: the base of the rates.
func (p period) reached() int {
	return p.ByState[domain.StatusPending] + p.ByState[domain.StatusSent] + p.ByState[domain.StatusDelivered] +
		p.ByState[domain.StatusRead] + p.ByState[domain.StatusFailed]
}

// failure is one of Meta's error codes and how many of this month's sends
// failed with it.
type failure struct {
	Code  int
	Title string
	Count int
	// AtLeast marks a count taken from the sample only (failures the
	// gateway refused itself carry no code to count by).
	AtLeast bool
}

// categoryCount is billable messages of one pricing category this month.
type categoryCount struct {
	Category string
	Count    int
}

// States lists the message states in the order of a message's life.
func (overviewView) States() []domain.Status { return statusOrder }

// failureSample bounds the failures read to find this month's codes;
// maxCodes bounds the codes counted exactly.
const (
	failureSample = 200
	maxCodes      = 8
)

// loadOverview runs the overview's counts and reads at once.
func (c *Console) loadOverview(ctx context.Context, tenant string) (overviewView, error) {
	now := c.cfg.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	v := overviewView{
		Today: period{Key: "today", Label: "Today", Since: day, ByState: map[domain.Status]int{}},
		Month: period{Key: "month", Label: "This month", Since: month, ByState: map[domain.Status]int{}},
	}
	var mu sync.Mutex
	var jobs []func() error
	for _, p := range []*period{&v.Today, &v.Month} {
		for _, st := range statusOrder {
			jobs = append(jobs, func() error {
				n, err := c.deps.Store.CountMessages(ctx, tenant, store.MessageFilter{Status: st, From: p.Since})
				mu.Lock()
				p.ByState[st] = n
				mu.Unlock()
				return err
			})
		}
	}
	var unknown, held int
	jobs = append(jobs,
		func() (err error) {
			unknown, err = c.deps.Store.CountMessages(ctx, tenant, store.MessageFilter{Status: domain.StatusUnknown})
			return err
		},
		func() (err error) {
			held, err = c.deps.Store.CountMessages(ctx, tenant, store.MessageFilter{Status: domain.StatusHeld})
			return err
		},
		func() error {
			f, sampled, err := c.failures(ctx, tenant, month)
			v.Failures, v.FailuresSampled = f, sampled
			return err
		},
		func() error {
			usage, err := c.deps.Store.Usage(ctx, tenant, month.Format("2006-01"))
			v.Billable = byCategory(usage)
			return err
		},
		func() error {
			chans, err := c.deps.Store.Channels(ctx, tenant)
			for _, ch := range chans {
				if ch.Hold != nil || !ch.Connected {
					v.Attention = append(v.Attention, ch)
				}
			}
			return err
		},
	)
	if err := parallel(jobs...); err != nil {
		return v, err
	}
	v.Figures = map[string]string{"unknown": count(unknown), "held": count(held)}
	for _, p := range []period{v.Today, v.Month} {
		for _, st := range statusOrder {
			v.Figures[p.Key+"."+string(st)] = count(p.ByState[st])
		}
		v.Figures[p.Key+".total"] = count(p.Total())
		v.Figures[p.Key+".delivered-rate"] = percent(p.ByState[domain.StatusDelivered]+p.ByState[domain.StatusRead], p.reached())
		v.Figures[p.Key+".read-rate"] = percent(p.ByState[domain.StatusRead], p.reached())
	}
	return v, nil
}

// failures groups a sample of this month's failures by Meta's code and
// counts each code exactly (one count aggregation per code, on the
// (status, error.code, createdAt) index).
func (c *Console) failures(ctx context.Context, tenant string, since time.Time) ([]failure, bool, error) {
	msgs, next, err := c.deps.Store.Messages(ctx, tenant, store.MessageFilter{Status: domain.StatusFailed, From: since}, failureSample, "")
	if err != nil {
		return nil, false, err
	}
	byCode := map[int]*failure{}
	var out []*failure
	for _, m := range msgs {
		code, title := 0, "no reason recorded"
		if m.Error != nil {
			code, title = m.Error.Code, m.Error.Title
		}
		f, ok := byCode[code]
		if !ok {
			f = &failure{Code: code, Title: title, AtLeast: code == 0 || len(out) >= maxCodes}
			byCode[code] = f
			out = append(out, f)
		}
		f.Count++
	}
	var jobs []func() error
	for _, f := range out {
		if f.AtLeast || next == "" {
			continue
		}
		jobs = append(jobs, func() (err error) {
			f.Count, err = c.deps.Store.CountMessages(ctx, tenant, store.MessageFilter{Status: domain.StatusFailed, ErrorCode: f.Code, From: since})
			return err
		})
	}
	if err := parallel(jobs...); err != nil {
		return nil, false, err
	}
	slices.SortStableFunc(out, func(a, b *failure) int { return b.Count - a.Count })
	list := make([]failure, len(out))
	for i, f := range out {
		list[i] = *f
	}
	return list, next != "", nil
}

func byCategory(usage []domain.UsageCount) []categoryCount {
	sums := map[string]int{}
	var order []string
	for _, u := range usage {
		if _, ok := sums[u.Category]; !ok {
			order = append(order, u.Category)
		}
		sums[u.Category] += u.Count
	}
	slices.Sort(order)
	out := make([]categoryCount, 0, len(order))
	for _, cat := range order {
		out = append(out, categoryCount{Category: cat, Count: sums[cat]})
	}
	return out
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r.Context())
	v, err := c.loadOverview(r.Context(), s.Tenant)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	v.page = c.page(r, "Overview", "overview")
	v.Live = "overview.json"
	c.render(w, r, http.StatusOK, "overview", v)
}

// overviewFigures are the overview's numbers for the live script.
func (c *Console) overviewFigures(w http.ResponseWriter, r *http.Request) {
	v, err := c.loadOverview(r.Context(), sessionOf(r.Context()).Tenant)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	writeJSON(w, v.Figures)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// parallel runs fns at once and joins their errors: a page's reads are
// independent, so it waits for the slowest, not their sum.
func parallel(fns ...func() error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(fns))
	for i, f := range fns {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

package batch

import (
	"context"
	"math"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// Counts are how many of a batch's recipients are in each state.
type Counts struct {
	// Accepted includes recipients whose message is not made yet (the
	// batch is scheduled, paused or still fanning out).
	Accepted    int `json:"accepted"`
	Held        int `json:"held"`
	Dispatching int `json:"dispatching"`
	Pending     int `json:"pending"`
	Sent        int `json:"sent"`
	Delivered   int `json:"delivered"`
	Read        int `json:"read"`
	// Failed are messages dispatch or Meta failed; the gateway's own
	// refusals are Refused.
	Failed int `json:"failed"`
	// Unknown are messages whose provider call lost its answer.
	Unknown int `json:"unknown"`
	// Cancelled includes, for a cancelled batch, recipients whose message
	// was never made.
	Cancelled int `json:"cancelled"`
	// Refused are recipients the gateway refused before any send: a bad
	// number or parameters at acceptance, the plan's conversation limit,
	// a marketing opt-out.
	Refused int `json:"refused"`
}

// counted are the message states a batch's progress counts, one count
// aggregation each.
var counted = []domain.Status{
	domain.StatusAccepted, domain.StatusHeld, domain.StatusDispatching, domain.StatusPending, domain.StatusSent,
	domain.StatusDelivered, domain.StatusRead, domain.StatusFailed, domain.StatusUnknown, domain.StatusCancelled,
}

// waiting are the states of a message still to be sent or settled: a
// running batch with none of them (and every chunk fanned out) is done.
// unknown is among them because sweep may resend it, and only a batch
// still open has its lost jobs republished.
var waiting = []domain.Status{domain.StatusAccepted, domain.StatusHeld, domain.StatusDispatching, domain.StatusUnknown}

// Progress is a batch as a broadcast: what it is, where it stands and how
// fast it goes.
type Progress struct {
	ID         string // the batch's internal id; clients know it by Code
	Code       string
	Source     string
	Name       string
	Channel    string
	TemplateID string
	State      domain.BatchState
	Recipients int
	Duplicates int
	// Counts is nil in a listing, which reads no message.
	Counts    *Counts
	CreatedAt time.Time
	SendAt    time.Time // zero: sent at once
	StartedAt time.Time // zero: not started
	// FinishedAt is when nothing was left to send, or when the batch was
	// cancelled.
	FinishedAt time.Time
	// Rate is messages handed to Meta (or ended) per second of sending
	// time since the start, pauses left out; 0 before the first.
	Rate float64
	// ETA is when the rest should be sent at Rate; zero unless running
	// with a rate.
	ETA time.Time
}

// Progress is the tenant's batch with this code and its counts: one count
// aggregation per state, so a 100,000-recipient batch costs about a
// hundred reads, never a read per message. A code the tenant has no batch
// under is a KindNotFound error.
func (s *Service) Progress(ctx context.Context, tenant, code string) (Progress, error) {
	rec, err := s.byCode(ctx, tenant, code)
	if err != nil {
		return Progress{}, err
	}
	return s.progress(ctx, tenant, rec)
}

// summary is what a batch's record says by itself, without reading its
// messages.
func summary(r store.BatchRecord) Progress {
	st := r.State.Of()
	if st == domain.BatchRunning && !r.FinishedAt.IsZero() {
		st = domain.BatchDone
	}
	return Progress{
		ID: r.ID, Code: r.Code, Source: r.Source, Name: r.Name, Channel: r.Channel, TemplateID: r.TemplateID,
		State: st, Recipients: r.Recipients, Duplicates: r.Duplicates,
		CreatedAt: r.CreatedAt, SendAt: r.SendAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	}
}

// progress is summary with the counts, the rate and the ETA.
func (s *Service) progress(ctx context.Context, tenant string, r store.BatchRecord) (Progress, error) {
	bc, err := s.store.CountBatchMessages(ctx, tenant, r.ID, counted)
	if err != nil {
		return Progress{}, err
	}
	p := summary(r)
	c := countsOf(r, bc)
	p.Counts = &c
	now := s.opt.Now().UTC()
	remaining := c.Accepted + c.Held + c.Dispatching
	if p.State == domain.BatchRunning && remaining+c.Unknown == 0 {
		p.State = domain.BatchDone // sweep records it on its next run
	}
	if r.StartedAt.IsZero() {
		return p, nil
	}
	end := now
	switch {
	case !r.FinishedAt.IsZero():
		end = r.FinishedAt
	case !r.PausedAt.IsZero():
		end = r.PausedAt
	}
	sending := end.Sub(r.StartedAt).Seconds() - r.PausedSeconds
	handed := c.Pending + c.Sent + c.Delivered + c.Read + c.Failed + c.Unknown
	if sending > 0 && handed > 0 {
		p.Rate = math.Round(float64(handed)/sending*100) / 100
	}
	if p.State == domain.BatchRunning && p.Rate > 0 && remaining > 0 {
		p.ETA = now.Add(time.Duration(float64(remaining) / p.Rate * float64(time.Second))).Truncate(time.Second)
	}
	return p, nil
}

// countsOf turns message counts into recipient counts: a recipient
// without a message is accepted (or cancelled, once the batch is), and the
// gateway's refusals, at acceptance or at fan-out, are refused rather than
// failed.
func countsOf(r store.BatchRecord, bc store.BatchCounts) Counts {
	by := bc.ByStatus
	c := Counts{
		Accepted: by[domain.StatusAccepted], Held: by[domain.StatusHeld], Dispatching: by[domain.StatusDispatching],
		Pending: by[domain.StatusPending], Sent: by[domain.StatusSent], Delivered: by[domain.StatusDelivered],
		Read: by[domain.StatusRead], Failed: by[domain.StatusFailed] - bc.Refused, Unknown: by[domain.StatusUnknown],
		Cancelled: by[domain.StatusCancelled], Refused: r.Failed + bc.Refused,
	}
	made := 0
	for _, n := range by {
		made += n
	}
	unmade := max(r.Accepted-made, 0)
	if r.State.Of() == domain.BatchCancelled {
		c.Cancelled += unmade
	} else {
		c.Accepted += unmade
	}
	return c
}

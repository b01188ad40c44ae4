package domain

import (
	"strings"
	"time"
)

// BatchState is the lifecycle of a bulk send (a broadcast): scheduled
// until its start time, running while its messages are made and sent,
// paused and resumed by the tenant, cancelled for good, done once every
// recipient's message has been handed to Meta or has ended.
type BatchState string

// Broadcast states. done is never stored: a running batch is done when
// nothing of it is left to send.
const (
	BatchScheduled BatchState = "scheduled"
	BatchRunning   BatchState = "running"
	BatchPaused    BatchState = "paused"
	BatchCancelled BatchState = "cancelled"
	BatchDone      BatchState = "done"
)

// Of is the stored state s stands for: batches stored before broadcasts
// had a lifecycle have none, and were running.
func (s BatchState) Of() BatchState {
	if s == "" {
		return BatchRunning
	}
	return s
}

// Sending reports whether a batch in state s makes and sends messages.
func (s BatchState) Sending() bool { return s.Of() == BatchRunning }

// Pause is the state a pause moves s to. Pausing a paused batch changes
// nothing; a scheduled one waits past its time until it is resumed.
func (s BatchState) Pause() (BatchState, error) {
	switch s.Of() {
	case BatchScheduled, BatchRunning, BatchPaused:
		return BatchPaused, nil
	}
	return s, s.refuse("paused")
}

// Resume is the state a resume moves s to at now, for a batch that was to
// start at sendAt (zero: at once): running, or scheduled again while its
// time has not come. Resuming a running or scheduled batch changes
// nothing.
func (s BatchState) Resume(sendAt, now time.Time) (BatchState, error) {
	switch s.Of() {
	case BatchPaused:
		if sendAt.After(now) {
			return BatchScheduled, nil
		}
		return BatchRunning, nil
	case BatchRunning, BatchScheduled:
		return s.Of(), nil
	}
	return s, s.refuse("resumed")
}

// Cancel is the state a cancel moves s to. Cancelling twice changes
// nothing.
func (s BatchState) Cancel() (BatchState, error) {
	switch s.Of() {
	case BatchScheduled, BatchRunning, BatchPaused, BatchCancelled:
		return BatchCancelled, nil
	}
	return s, s.refuse("cancelled")
}

func (s BatchState) refuse(what string) error {
	return Errorf(KindConflict, "the batch is "+string(s.Of())+" and cannot be "+what)
}

// MaxSchedule is how far ahead a bulk send may be scheduled: a batch and
// its chunks are kept 30 days, and its recipients must be sent while they
// are.
const MaxSchedule = 30 * 24 * time.Hour

// sendAtLayouts are the ISO-8601 forms a scheduled start is read in. Each
// carries its offset: a time without one would be read in a zone the
// client never named, hours off.
var sendAtLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"}

// ParseSendAt reads a bulk send's scheduled start (emkt's agendamento,
// Wati's scheduledDateTime): ISO-8601 with seconds or minutes and an
// offset (Z or ±hh:mm). A time already past starts the batch at once; one
// more than MaxSchedule after now is refused. problem names what is wrong,
// "" when nothing is.
func ParseSendAt(s string, now time.Time) (at time.Time, problem string) {
	s = strings.TrimSpace(s)
	for _, layout := range sendAtLayouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if t.Sub(now) > MaxSchedule {
			return time.Time{}, "more than 30 days ahead"
		}
		return t.UTC(), ""
	}
	return time.Time{}, "not an ISO-8601 time with its offset, e.g. 2026-06-01T09:00:00-03:00"
}

// Unclaim undoes dispatch's claim on m before anything was handed to the
// provider (its broadcast is paused or cancelled): m is accepted again as
// if the claim never happened, its history, attempts and lease as before.
// The claim's history entry goes because no attempt took place; the
// transition line dispatch logs keeps the record.
func (m *Message) Unclaim(at time.Time) {
	if m.Status != StatusDispatching {
		return
	}
	m.Status = StatusAccepted
	if n := len(m.History); n > 0 && m.History[n-1].Status == StatusDispatching {
		m.History = m.History[:n-1]
	}
	m.Attempts = max(m.Attempts-1, 0)
	m.LeaseUntil = time.Time{}
	m.UpdatedAt = at
}

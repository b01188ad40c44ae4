package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

func TestBatchStateMoves(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	const refused = domain.BatchState("refused")
	for _, c := range []struct {
		from                  domain.BatchState
		pause, cancel         domain.BatchState
		resume, resumeEarlier domain.BatchState // sendAt later / earlier than now
	}{
		{"", domain.BatchPaused, domain.BatchCancelled, domain.BatchRunning, domain.BatchRunning},
		{domain.BatchScheduled, domain.BatchPaused, domain.BatchCancelled, domain.BatchScheduled, domain.BatchScheduled},
		{domain.BatchRunning, domain.BatchPaused, domain.BatchCancelled, domain.BatchRunning, domain.BatchRunning},
		{domain.BatchPaused, domain.BatchPaused, domain.BatchCancelled, domain.BatchScheduled, domain.BatchRunning},
		{domain.BatchCancelled, refused, domain.BatchCancelled, refused, refused},
		{domain.BatchDone, refused, refused, refused, refused},
	} {
		check := func(op string, got domain.BatchState, err error, want domain.BatchState) {
			t.Helper()
			if want == refused {
				if domain.KindOf(err) != domain.KindConflict {
					t.Errorf("%q %s = %q, %v; want a KindConflict refusal", c.from, op, got, err)
				}
				return
			}
			if err != nil || got != want {
				t.Errorf("%q %s = %q, %v; want %q", c.from, op, got, err, want)
			}
		}
		got, err := c.from.Pause()
		check("pause", got, err, c.pause)
		got, err = c.from.Cancel()
		check("cancel", got, err, c.cancel)
		got, err = c.from.Resume(later, now)
		check("resume before sendAt", got, err, c.resume)
		got, err = c.from.Resume(earlier, now)
		check("resume after sendAt", got, err, c.resumeEarlier)
	}
	if !domain.BatchState("").Sending() || domain.BatchPaused.Sending() || domain.BatchScheduled.Sending() {
		t.Error("only running batches (and those stored without a state) send")
	}
}

func TestParseSendAt(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "2026-06-01T09:00:00-03:00", want: now},
		{in: " 2026-06-01T12:00:00Z ", want: now},
		{in: "2026-06-01T12:00:00.250Z", want: now.Add(250 * time.Millisecond)},
		{in: "2026-06-01T09:00-03:00", want: now},
		{in: "2020-01-01T00:00:00Z", want: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}, // past: at once
		{in: "2026-07-01T12:00:00Z", want: now.Add(domain.MaxSchedule)},
		{in: "2026-07-01T12:00:01Z", bad: true},
		{in: "2026-06-01T12:00:00", bad: true}, // no offset
		{in: "2026-06-01", bad: true},
		{in: "tomorrow", bad: true},
		{in: "", bad: true},
	} {
		got, problem := domain.ParseSendAt(c.in, now)
		switch {
		case c.bad && problem == "":
			t.Errorf("ParseSendAt(%q) = %v, want a problem", c.in, got)
		case !c.bad && (problem != "" || !got.Equal(c.want) || got.Location() != time.UTC):
			t.Errorf("ParseSendAt(%q) = %v %q, want %v in UTC", c.in, got, problem, c.want)
		}
	}
}

func TestUnclaimUndoesTheClaimOnly(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := domain.NewMessage("m1", "demo", "main", "5511987654321", "welcome", domain.TemplateMessage{Name: "welcome"}, t0)
	m.Attempts = 1 // a retry before this claim
	before := m
	before.History = append([]domain.HistoryEntry(nil), m.History...)
	if err := m.Move(domain.StatusDispatching, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	m.Attempts++
	m.LeaseUntil = t0.Add(time.Minute)
	m.Unclaim(t0.Add(2 * time.Second))
	if m.Status != domain.StatusAccepted || m.Attempts != 1 || !m.LeaseUntil.IsZero() ||
		!reflect.DeepEqual(m.History, before.History) || !m.UpdatedAt.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("unclaimed %+v, want %+v touched at +2s", m, before)
	}
	// Only a claimed message is unclaimed.
	sent := m
	sent.Status = domain.StatusSent
	sent.Unclaim(t0.Add(time.Hour))
	if sent.Status != domain.StatusSent || !sent.UpdatedAt.Equal(m.UpdatedAt) {
		t.Errorf("a sent message was unclaimed: %+v", sent)
	}
}

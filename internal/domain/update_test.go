package domain_test

import (
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

func msgIn(s domain.Status) domain.Message {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	m := domain.NewMessage("m1", "t", "main", "5511987654321", "welcome", domain.TemplateMessage{}, t0)
	m.Status = s
	return m
}

func TestApplyMovesForwardOnly(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 5, 0, time.UTC)
	for _, tc := range []struct {
		from, to domain.Status
		changed  bool
	}{
		{domain.StatusPending, domain.StatusSent, true},
		{domain.StatusPending, domain.StatusRead, true}, // delivered skipped
		{domain.StatusSent, domain.StatusSent, false},   // duplicate
		{domain.StatusRead, domain.StatusDelivered, false},
		{domain.StatusDelivered, domain.StatusSent, false},
		{domain.StatusFailed, domain.StatusSent, false},
		{domain.StatusUnknown, domain.StatusDelivered, true}, // reconciled
		{domain.StatusDispatching, domain.StatusSent, true},  // outran dispatch's outcome
		{domain.StatusAccepted, domain.StatusSent, true},     // proves a send dispatch thought retryable
		{domain.StatusDelivered, domain.StatusFailed, false},
	} {
		m := msgIn(tc.from)
		changed, err := m.Apply(domain.Update{ProviderMessageID: "wamid.1", Status: tc.to, At: at})
		if err != nil || changed != tc.changed {
			t.Errorf("%s + %s: changed %v err %v, want %v", tc.from, tc.to, changed, err, tc.changed)
			continue
		}
		want := tc.from
		if tc.changed {
			want = tc.to
		}
		if m.Status != want {
			t.Errorf("%s + %s: status %s, want %s", tc.from, tc.to, m.Status, want)
		}
		if tc.changed && (m.ProviderMessageID != "wamid.1" || m.History[len(m.History)-1].At != at) {
			t.Errorf("%s + %s: provider id %q history %v", tc.from, tc.to, m.ProviderMessageID, m.History)
		}
	}
}

func TestApplyFailedKeepsMetaError(t *testing.T) {
	m := msgIn(domain.StatusPending)
	e := &domain.MessageError{Code: 131026, Title: "Message undeliverable"}
	if changed, err := m.Apply(domain.Update{Status: domain.StatusFailed, At: time.Now(), Error: e}); !changed || err != nil {
		t.Fatalf("changed %v err %v", changed, err)
	}
	if m.Error == nil || m.Error.Code != 131026 {
		t.Errorf("error %+v", m.Error)
	}
}

func TestApplyReconcileClearsDoubt(t *testing.T) {
	m := msgIn(domain.StatusUnknown)
	m.Error = &domain.MessageError{Title: "outcome unknown"}
	if changed, _ := m.Apply(domain.Update{ProviderMessageID: "wamid.9", Status: domain.StatusSent, At: time.Now()}); !changed {
		t.Fatal("not applied")
	}
	if m.Error != nil || m.ProviderMessageID != "wamid.9" {
		t.Errorf("after reconcile: error %+v conversation %q wamid %q", m.Error, m.ConversationID, m.ProviderMessageID)
	}
}

func TestApplyIgnoresAnotherSendsID(t *testing.T) {
	m := msgIn(domain.StatusPending)
	m.ProviderMessageID = "wamid.mine"
	if changed, err := m.Apply(domain.Update{ProviderMessageID: "wamid.other", Status: domain.StatusRead, At: time.Now()}); changed || err != nil {
		t.Errorf("changed %v err %v: another send's status moved this message", changed, err)
	}
}

func TestApplyRefusesUntrackedStatus(t *testing.T) {
	m := msgIn(domain.StatusPending)
	if _, err := m.Apply(domain.Update{Status: domain.StatusPending, At: time.Now()}); err == nil {
		t.Error("pending from a webhook accepted")
	}
	if _, ok := domain.ParseUpdateStatus("deleted"); ok {
		t.Error(`"deleted" parsed as a tracked status`)
	}
}

func TestApplyNeverStepsBackInTime(t *testing.T) {
	m := msgIn(domain.StatusPending)
	m.UpdatedAt = time.Date(2026, 11, 1, 12, 0, 2, 500, time.UTC)
	if _, err := m.Apply(domain.Update{Status: domain.StatusSent, At: time.Date(2026, 11, 1, 12, 0, 2, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if last := m.History[len(m.History)-1].At; last.Before(m.History[len(m.History)-2].At) || !m.UpdatedAt.Equal(last) {
		t.Errorf("history steps back: %v", m.History)
	}
}

func TestContactWindowOpen(t *testing.T) {
	now := time.Now()
	c := domain.Contact{Windows: map[string]time.Time{"main": now.Add(time.Hour)}}
	if !c.WindowOpen("main", now) || c.WindowOpen("other", now) || c.WindowOpen("main", now.Add(2*time.Hour)) {
		t.Error("window rules")
	}
}

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
	conv := &domain.Conversation{ID: "c1", ExpiresAt: time.Now().Add(time.Hour)}
	if changed, _ := m.Apply(domain.Update{ProviderMessageID: "wamid.9", Status: domain.StatusSent, At: time.Now(), Conversation: conv}); !changed {
		t.Fatal("not applied")
	}
	if m.Error != nil || m.ConversationID != "c1" || m.ProviderMessageID != "wamid.9" {
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

func TestConversationExtend(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	stored := domain.Conversation{ID: "c1", ExpiresAt: t0.Add(24 * time.Hour), OriginType: "utility"}
	for _, tc := range []struct {
		name  string
		next  domain.Conversation
		write bool
		want  string
		exp   time.Time
	}{
		{"late webhook of the same", domain.Conversation{ID: "c1", ExpiresAt: t0.Add(time.Hour)}, false, "c1", stored.ExpiresAt},
		{"same without expiry", domain.Conversation{ID: "c1"}, false, "c1", stored.ExpiresAt},
		{"same extended", domain.Conversation{ID: "c1", ExpiresAt: t0.Add(48 * time.Hour)}, true, "c1", t0.Add(48 * time.Hour)},
		{"another without expiry", domain.Conversation{ID: "c0"}, false, "c1", stored.ExpiresAt},
		{"an older one, late", domain.Conversation{ID: "c0", ExpiresAt: t0.Add(2 * time.Hour)}, false, "c1", stored.ExpiresAt},
		{"a newer one", domain.Conversation{ID: "c2", ExpiresAt: t0.Add(72 * time.Hour)}, true, "c2", t0.Add(72 * time.Hour)},
	} {
		got, write := stored.Extend(tc.next, t0.Add(time.Hour))
		if write != tc.write || got.ID != tc.want || !got.ExpiresAt.Equal(tc.exp) {
			t.Errorf("%s: %+v write %v, want %s until %s write %v", tc.name, got, write, tc.want, tc.exp, tc.write)
		}
	}
	if got, write := (domain.Conversation{}).Extend(domain.Conversation{ID: "c1", ExpiresAt: t0}, t0); !write || got.ID != "c1" {
		t.Error("the first conversation was not written")
	}
	// A stored conversation that closed gives way to any with an expiry.
	if got, write := stored.Extend(domain.Conversation{ID: "c3", ExpiresAt: t0.Add(time.Hour)}, t0.Add(25*time.Hour)); !write || got.ID != "c3" {
		t.Errorf("closed conversation kept: %+v", got)
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

func TestCheckConversationLimit(t *testing.T) {
	for _, tc := range []struct {
		open        bool
		limit, used int
		refused     bool
	}{
		{false, 0, 1000, false}, // unlimited
		{false, 10, 9, false},
		{false, 10, 10, true},
		{true, 10, 10, false}, // into an open conversation
	} {
		err := domain.CheckConversationLimit(tc.open, tc.limit, tc.used)
		if (err != nil) != tc.refused || (err != nil && domain.KindOf(err) != domain.KindLimitReached) {
			t.Errorf("%+v: err %v", tc, err)
		}
	}
	if domain.MonthKey(time.Date(2026, 1, 31, 23, 0, 0, 0, time.FixedZone("x", -3*3600))) != "2026-02" {
		t.Error("MonthKey is not UTC")
	}
}

func TestContactWindowOpen(t *testing.T) {
	now := time.Now()
	c := domain.Contact{Windows: map[string]time.Time{"main": now.Add(time.Hour)}}
	if !c.WindowOpen("main", now) || c.WindowOpen("other", now) || c.WindowOpen("main", now.Add(2*time.Hour)) {
		t.Error("window rules")
	}
}

package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

var tokenRefusal = domain.Hold{Code: 190, Reason: "Error validating access token"}

// claimedMessage stores an accepted message of tenant t1 on channel main
// created at at, and claims it.
func claimedMessage(t *testing.T, s *store.Store, phone string, at time.Time) domain.Message {
	t.Helper()
	ctx := context.Background()
	m := msg("t1", phone, at)
	if _, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Claim(ctx, "t1", m.ID, at.Add(time.Second), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func putMain(t *testing.T, s *store.Store) {
	t.Helper()
	if err := s.PutChannel(context.Background(), "t1", domain.Channel{ID: "main", PhoneNumberID: "1001", Connected: true}); err != nil {
		t.Fatal(err)
	}
}

// TestHoldMessageHoldsTheChannelOnce: the first refusal holds the channel
// with its start; later ones, and messages held because the channel is,
// keep that hold and say it is not new.
func TestHoldMessageHoldsTheChannelOnce(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	putMain(t, s)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	first := claimedMessage(t, s, "5511987650400", t0)
	refusal := tokenRefusal
	refusal.Since = t0.Add(2 * time.Second)
	h, err := s.HoldMessage(ctx, "t1", first.ID, first.Attempts, refusal.Since, &refusal)
	if err != nil {
		t.Fatal(err)
	}
	if !h.NewHold || h.Hold != refusal || h.Message.Status != domain.StatusHeld || h.Message.Error.Code != 190 {
		t.Fatalf("first hold = %+v, want a new hold %+v and the message held", h, refusal)
	}
	ch := channel(t, s)
	if ch.Hold == nil || !ch.Hold.Since.Equal(refusal.Since) || ch.Hold.Code != 190 || !ch.Connected {
		t.Fatalf("channel = %+v hold %+v, want connected and held since %v", ch, ch.Hold, refusal.Since)
	}

	later := refusal
	later.Code, later.Since = 131031, t0.Add(time.Minute)
	second := claimedMessage(t, s, "5511987650401", t0)
	if h, err = s.HoldMessage(ctx, "t1", second.ID, second.Attempts, later.Since, &later); err != nil {
		t.Fatal(err)
	}
	if h.NewHold || h.Hold.Code != 190 || !h.Hold.Since.Equal(refusal.Since) {
		t.Errorf("second refusal = %+v, want the first hold kept", h)
	}
	third := claimedMessage(t, s, "5511987650402", t0)
	if h, err = s.HoldMessage(ctx, "t1", third.ID, third.Attempts, t0.Add(time.Hour), nil); err != nil || h.NewHold || h.Message.Status != domain.StatusHeld {
		t.Errorf("hold from a cached hold = %+v, %v", h, err)
	}
	// A message that is not the attempt's is not held.
	if _, err := s.HoldMessage(ctx, "t1", third.ID, third.Attempts, t0.Add(time.Hour), nil); !errors.Is(err, store.ErrStale) {
		t.Errorf("holding a held message: %v, want ErrStale", err)
	}
}

// TestHoldMessageWithoutHoldSaysNotHeld: a copy of the channel said held,
// but the channel was released: the message is left to the attempt.
func TestHoldMessageWithoutHoldSaysNotHeld(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	putMain(t, s)
	t0 := time.Now().UTC()
	m := claimedMessage(t, s, "5511987650403", t0)
	if _, err := s.HoldMessage(ctx, "t1", m.ID, m.Attempts, t0, nil); !errors.Is(err, store.ErrNotHeld) {
		t.Fatalf("err = %v, want ErrNotHeld", err)
	}
	if got, _ := s.Message(ctx, "t1", m.ID); got.Status != domain.StatusDispatching {
		t.Errorf("message %s, want still dispatching", got.Status)
	}
}

// TestReleaseHeldOldestFirstPaged: connect lifts the hold and releases
// every held message of the channel, oldest first, a page at a time; a
// second run finds nothing; other channels' and other states' messages
// stay as they are.
func TestReleaseHeldOldestFirstPaged(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	putMain(t, s)
	if err := s.PutChannel(ctx, "t1", domain.Channel{ID: "other", PhoneNumberID: "1002", Connected: true}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	refusal := tokenRefusal
	refusal.Since = t0
	var want []string
	for i := range 7 {
		// Created in reverse: the order released is by creation, not by
		// id or by when each was held.
		m := claimedMessage(t, s, "5511987650410", t0.Add(time.Duration(10-i)*time.Second))
		if _, err := s.HoldMessage(ctx, "t1", m.ID, m.Attempts, t0.Add(time.Minute), &refusal); err != nil {
			t.Fatal(err)
		}
		want = append([]string{m.ID}, want...)
	}
	stay := claimedMessage(t, s, "5511987650411", t0) // dispatching, not held
	other := msg("t1", "5511987650412", t0)
	other.Channel = "other"
	if _, err := s.Accept(ctx, store.Acceptance{Message: other, Contact: domain.Contact{Phone: other.PhoneNumber}}); err != nil {
		t.Fatal(err)
	}
	other, _ = s.Claim(ctx, "t1", other.ID, t0, time.Minute)
	if _, err := s.HoldMessage(ctx, "t1", other.ID, other.Attempts, t0, &refusal); err != nil {
		t.Fatal(err)
	}

	ch, err := s.ReleaseChannel(ctx, "t1", "main")
	if err != nil || ch.Hold != nil || !ch.Connected {
		t.Fatalf("ReleaseChannel = %+v, %v", ch, err)
	}
	if got := channel(t, s); got.Hold != nil {
		t.Fatalf("stored channel still held: %+v", got.Hold)
	}
	now := time.Now().UTC().Truncate(time.Microsecond) // Firestore keeps microseconds
	var got []string
	var cursor store.HeldCursor
	pages := 0
	for {
		ids, next, last, err := s.ReleaseHeld(ctx, "t1", "main", cursor, 3, now)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, ids...)
		if last {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("released %v in %d pages, want %v oldest first in 3", got, pages, want)
	}
	for _, id := range got {
		m, _ := s.Message(ctx, "t1", id)
		h := m.History
		if m.Status != domain.StatusAccepted || m.Error != nil || h[len(h)-2].Status != domain.StatusHeld || !m.UpdatedAt.Equal(now) {
			t.Errorf("released %s = %s error %+v history %v", id, m.Status, m.Error, h)
		}
	}
	if m, _ := s.Message(ctx, "t1", stay.ID); m.Status != domain.StatusDispatching {
		t.Errorf("a dispatching message was touched: %s", m.Status)
	}
	if m, _ := s.Message(ctx, "t1", other.ID); m.Status != domain.StatusHeld {
		t.Errorf("another channel's held message was released: %s", m.Status)
	}
	if ids, _, last, err := s.ReleaseHeld(ctx, "t1", "main", store.HeldCursor{}, 3, now); err != nil || len(ids) != 0 || !last {
		t.Errorf("second release = %v last %v %v, want nothing", ids, last, err)
	}
	if _, err := s.ReleaseChannel(ctx, "t1", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("releasing an unknown channel: %v", err)
	}
}

// TestExpireHoldPastTheLimit: only held messages past the limit fail, with
// the channel's reason, and a fresh one stays held.
func TestExpireHoldPastTheLimit(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	putMain(t, s)
	now := time.Now().UTC()
	limit := 24 * time.Hour
	refusal := tokenRefusal
	old := claimedMessage(t, s, "5511987650420", now.Add(-26*time.Hour))
	if _, err := s.HoldMessage(ctx, "t1", old.ID, old.Attempts, now.Add(-25*time.Hour), &refusal); err != nil {
		t.Fatal(err)
	}
	fresh := claimedMessage(t, s, "5511987650421", now.Add(-time.Hour))
	if _, err := s.HoldMessage(ctx, "t1", fresh.ID, fresh.Attempts, now.Add(-time.Hour), &refusal); err != nil {
		t.Fatal(err)
	}
	ids, err := s.ExpiredHolds(ctx, "t1", now.Add(-limit), 10)
	if err != nil || !slices.Equal(ids, []string{old.ID}) {
		t.Fatalf("ExpiredHolds = %v, %v; want only %s", ids, err, old.ID)
	}
	m, err := s.ExpireHold(ctx, "t1", old.ID, limit, now)
	if err != nil || m.Status != domain.StatusFailed || m.Error == nil || m.Error.Code != 190 ||
		m.Error.Title != "held longer than 24h: channel held: Error validating access token" {
		t.Fatalf("ExpireHold = %+v error %+v, %v", m, m.Error, err)
	}
	if _, err := s.ExpireHold(ctx, "t1", fresh.ID, limit, now); !errors.Is(err, store.ErrStale) {
		t.Errorf("a fresh hold expired: %v", err)
	}
	if _, err := s.ExpireHold(ctx, "t1", old.ID, limit, now); !errors.Is(err, store.ErrStale) {
		t.Errorf("a failed message expired again: %v", err)
	}
}

// TestUnknownDueResendKeepSettle: an unknown message is due once its wait
// is over, resent once, and a message left for a person is never due.
func TestUnknownDueResendKeepSettle(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	wait := 10 * time.Minute
	lost := &domain.MessageError{Title: "no answer after the request was sent"}
	unknown := func(phone string, at time.Time) domain.Message {
		m := claimedMessage(t, s, phone, at.Add(-time.Second))
		got, err := s.Settle(ctx, "t1", m.ID, m.Attempts, func(m *domain.Message, _ domain.Conversation) error {
			return m.MarkUnknown(lost, at, wait)
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	due := unknown("5511987650430", now.Add(-time.Hour))
	kept := unknown("5511987650431", now.Add(-time.Hour))
	waiting := unknown("5511987650432", now)

	ids, err := s.DueUnknown(ctx, "t1", now, 10)
	if err != nil || !slices.Contains(ids, due.ID) || !slices.Contains(ids, kept.ID) || slices.Contains(ids, waiting.ID) {
		t.Fatalf("DueUnknown = %v, %v; want %s and %s, not %s", ids, err, due.ID, kept.ID, waiting.ID)
	}
	if _, err := s.KeepUnknown(ctx, "t1", kept.ID); err != nil {
		t.Fatal(err)
	}
	m, err := s.ResendUnknown(ctx, "t1", due.ID, now)
	if err != nil || m.Status != domain.StatusAccepted || !m.ResentAt.Equal(now) {
		t.Fatalf("ResendUnknown = %+v, %v", m, err)
	}
	if _, err := s.ResendUnknown(ctx, "t1", waiting.ID, now); !errors.Is(err, store.ErrStale) {
		t.Errorf("resent a message still waiting for its webhook: %v", err)
	}
	if ids, _ := s.DueUnknown(ctx, "t1", now.Add(time.Hour), 10); !slices.Equal(ids, []string{waiting.ID}) {
		t.Errorf("DueUnknown later = %v, want only %s: the kept one waits for a person", ids, waiting.ID)
	}
	settled, err := s.SettleUnknown(ctx, "t1", kept.ID, domain.SettleFailed, now)
	if err != nil || settled.Status != domain.StatusFailed || settled.Error.Title != domain.SettledByOperator {
		t.Fatalf("SettleUnknown = %+v, %v", settled, err)
	}
	if _, err := s.SettleUnknown(ctx, "t1", kept.ID, domain.SettleSent, now); !errors.Is(err, store.ErrStale) {
		t.Errorf("settled a failed message again: %v", err)
	}
}

func channel(t *testing.T, s *store.Store) domain.Channel {
	t.Helper()
	list, err := s.Channels(context.Background(), "t1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.ID == "main" {
			return c
		}
	}
	t.Fatal("no channel main")
	return domain.Channel{}
}

package domain_test

import (
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

func TestShardCapacitiesAddUpToTheLimit(t *testing.T) {
	for _, limit := range []int{1, 2, 3, 15, 16, 17, 100, 1001} {
		sum := 0
		for i := range domain.LimitShards + 1 {
			sum += domain.ShardCapacity(limit, i)
		}
		if sum != limit {
			t.Errorf("limit %d: capacities add up to %d", limit, sum)
		}
		if n := domain.LimitShardCount(limit); domain.ShardCapacity(limit, n-1) == 0 {
			t.Errorf("limit %d: shard %d in use has no room", limit, n-1)
		}
	}
}

func TestPickShard(t *testing.T) {
	used := map[int]int{0: 1, 1: 1}
	if i, err := domain.PickShard(3, 0, func(i int) int { return used[i] }); err != nil || i != 2 {
		t.Errorf("PickShard = %d, %v; want the shard with room, 2", i, err)
	}
	used[2] = 1
	if _, err := domain.PickShard(3, 1, func(i int) int { return used[i] }); domain.KindOf(err) != domain.KindLimitReached {
		t.Errorf("no room: %v, want KindLimitReached", err)
	}
}

func TestConversationLife(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var c domain.Conversation
	if !c.NeedsReservation(now) {
		t.Fatal("a contact without a conversation needs no reservation")
	}
	c.Reserve("m1", "2026-12", 3, now)
	if c.NeedsReservation(now) || c.Open(now) {
		t.Errorf("reserved: needs %v open %v", c.NeedsReservation(now), c.Open(now))
	}
	if _, _, ok := c.Release("m2"); ok {
		t.Error("another message released m1's reservation")
	}
	opened, count := c.OpenBy("conv1", now.Add(time.Minute), 24*time.Hour)
	if !opened || count {
		t.Errorf("opening a reserved conversation: opened %v count %v, want opened, already counted", opened, count)
	}
	if !c.Open(now.Add(2*time.Minute)) || c.ID != "conv1" || !c.ExpiresAt.Equal(now.Add(time.Minute+24*time.Hour)) {
		t.Errorf("opened: %+v", c)
	}
	if again, _ := c.OpenBy("conv2", now.Add(time.Hour), 24*time.Hour); again || c.ID != "conv1" {
		t.Errorf("a late status reopened it: %+v", c)
	}
	if c.ExtendTo(now) {
		t.Error("an inbound message shortened the window")
	}
	if !c.ExtendTo(now.Add(48 * time.Hour)) {
		t.Error("an inbound message did not extend the window")
	}
	var fresh domain.Conversation
	if opened, count := fresh.OpenBy("c", now, time.Hour); !opened || !count {
		t.Errorf("an unreserved conversation opens and must be counted: %v %v", opened, count)
	}
	var r domain.Conversation
	r.Reserve("m1", "2026-12", 2, now)
	if month, shard, ok := r.Release("m1"); !ok || month != "2026-12" || shard != 2 || !r.NeedsReservation(now) {
		t.Errorf("release: %s %d %v %+v", month, shard, ok, r)
	}
}

func TestConversationPeriod(t *testing.T) {
	if p := (domain.Tenant{}).ConversationPeriod(); p != 24*time.Hour {
		t.Errorf("default period %v", p)
	}
	if p := (domain.Tenant{ConversationHours: 72}).ConversationPeriod(); p != 72*time.Hour {
		t.Errorf("72 h period %v", p)
	}
}

func TestKeywordChange(t *testing.T) {
	ten := domain.Tenant{}
	for text, want := range map[string][2]bool{
		"STOP": {true, true}, " stop ": {true, true}, "Parar!": {true, true}, "unsubscribe": {true, true},
		"start": {false, true}, "Voltar": {false, true},
		"stop sending me the wrong size": {false, false}, "": {false, false}, "hello": {false, false},
	} {
		out, ok := ten.KeywordChange(text)
		if out != want[0] || ok != want[1] {
			t.Errorf("%q: out %v ok %v, want %v %v", text, out, ok, want[0], want[1])
		}
	}
	custom := domain.Tenant{OptOutKeywords: []string{"BASTA"}, OptInKeywords: []string{"SIM"}}
	if out, ok := custom.KeywordChange("basta"); !out || !ok {
		t.Error("a tenant's own keyword did not opt out")
	}
	if _, ok := custom.KeywordChange("STOP"); ok {
		t.Error("a tenant with its own keywords still took the defaults")
	}
}

func TestOptOutApply(t *testing.T) {
	now := time.Now()
	var o domain.OptOut
	if o.Apply(false, now, domain.OptOutByKeyword) {
		t.Error("opting in a contact that never opted out changed something")
	}
	if !o.Apply(true, now, domain.OptOutByKeyword) || !o.Out {
		t.Error("opt-out not applied")
	}
	if o.Apply(true, now.Add(time.Second), domain.OptOutByPreference) {
		t.Error("a repeated opt-out changed something")
	}
	if o.Apply(false, now.Add(-time.Minute), domain.OptOutByPreference) {
		t.Error("a stale opt-in was applied")
	}
	if !o.Apply(false, now.Add(time.Minute), domain.OptOutByPreference) || o.Out {
		t.Error("a later opt-in was not applied")
	}
}

func TestCheckMarketing(t *testing.T) {
	out := domain.Contact{Phone: "5511987650000", Marketing: domain.OptOut{Out: true}}
	mkt := domain.Template{Name: "promo", Category: "MARKETING"}
	utl := domain.Template{Name: "receipt", Category: "UTILITY"}
	if err := domain.CheckMarketing(out, mkt, "phoneNumber"); domain.KindOf(err) != domain.KindInvalid {
		t.Errorf("marketing to an opted-out contact: %v", err)
	}
	if err := domain.CheckMarketing(out, utl, "phoneNumber"); err != nil {
		t.Errorf("utility to an opted-out contact: %v", err)
	}
	if err := domain.CheckMarketing(domain.Contact{}, mkt, "phoneNumber"); err != nil {
		t.Errorf("marketing to a contact who did not opt out: %v", err)
	}
}

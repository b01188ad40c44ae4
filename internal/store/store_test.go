package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"golang.org/x/sync/errgroup"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func newStore(t *testing.T) (*store.Store, *firestore.Client) {
	t.Helper()
	fs, err := firestore.NewClient(context.Background(), emulatortest.ProjectID(t), emulatortest.FirestoreOptions(t)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return store.New(fs), fs
}

func msg(tenant, phone string, at time.Time) domain.Message {
	return domain.NewMessage(store.NewID(), tenant, "main", phone, "welcome", domain.TemplateMessage{Name: "welcome"}, at)
}

func count(t *testing.T, fs *firestore.Client, path string) int {
	t.Helper()
	docs, err := fs.Collection(path).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(docs)
}

func TestAcceptIsOneAtomicCommit(t *testing.T) {
	s, fs := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	first := store.Acceptance{Message: msg("t1", "5511987650000", now), Contact: domain.Contact{Phone: "5511987650000", FirstName: "Ana", UpdatedAt: now},
		IdempotencyKey: "k1", Idempotency: store.IdempotencyRecord{RequestHash: "h", Code: 202, Body: []byte(`{}`), ExpireAt: now.Add(time.Hour)}}
	first.Idempotency.MessageID = first.Message.ID
	claim, claimed, err := s.ClaimKey(ctx, "t1", "k1", store.IdempotencyRecord{RequestHash: "h", State: store.KeyInFlight, LeaseUntil: now.Add(time.Minute), ExpireAt: now.Add(time.Hour)})
	if err != nil || !claimed {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if _, again, err := s.ClaimKey(ctx, "t1", "k1", claim); again || err != nil {
		t.Fatalf("a second claim of a held key: %v %v", again, err)
	}
	first.Idempotency.Version = claim.Version
	if _, err := s.Accept(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := first
	second.Message = msg("t1", "5511987650000", now)
	if _, err := s.Accept(ctx, second); !errors.Is(err, store.ErrKeyExists) {
		t.Fatalf("second accept under the same key: %v, want ErrKeyExists", err)
	}
	if n := count(t, fs, "tenants/t1/messages"); n != 1 {
		t.Fatalf("%d messages after a refused commit, want 1: the refused commit must write nothing", n)
	}
	rec, err := s.Idempotency(ctx, "t1", "k1")
	if err != nil || rec.MessageID != first.Message.ID || rec.Code != 202 {
		t.Fatalf("record = %+v, %v", rec, err)
	}
	c, err := fs.Doc("tenants/t1/contacts/5511987650000").Get(ctx)
	if err != nil || c.Data()["firstName"] != "Ana" {
		t.Fatalf("contact = %v, %v", c, err)
	}
}

func TestMessagesPagesNewestFirstAndFilters(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Millisecond)
	var ids []string
	for i := range 5 {
		phone := "5511987650001"
		if i%2 == 1 {
			phone = "5511987650002"
		}
		m := msg("t1", phone, base.Add(time.Duration(i)*time.Second))
		ids = append(ids, m.ID)
		if _, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Accept(ctx, store.Acceptance{Message: msg("t2", "5511987650001", base), Contact: domain.Contact{Phone: "5511987650001"}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	tok := ""
	for page := 0; ; page++ {
		list, next, err := s.Messages(ctx, "t1", store.MessageFilter{}, 2, tok)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			got = append(got, m.ID)
		}
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("paging does not end")
		}
		tok = next
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages = %v, want newest first %v", got, want)
	}
	list, _, err := s.Messages(ctx, "t1", store.MessageFilter{Phone: "5511987650002", Status: domain.StatusAccepted}, 10, "")
	if err != nil || len(list) != 2 {
		t.Fatalf("filtered = %d, %v; want 2", len(list), err)
	}
	if _, _, err := s.Messages(ctx, "t1", store.MessageFilter{}, 2, "garbage!"); !errors.Is(err, store.ErrBadPageToken) {
		t.Fatalf("bad token: %v", err)
	}
}

func TestClaimOnceThenStale(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	m := msg("t1", "5511987650003", time.Now().UTC())
	if _, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: m.PhoneNumber}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Claim(ctx, "t1", m.ID, time.Now(), time.Minute)
	if err != nil || got.Status != domain.StatusDispatching || got.Attempts != 1 || got.LeaseUntil.IsZero() {
		t.Fatalf("claim = %+v, %v", got, err)
	}
	if _, err := s.Claim(ctx, "t1", m.ID, time.Now(), time.Minute); !errors.Is(err, store.ErrStale) {
		t.Fatalf("second claim: %v, want ErrStale", err)
	}
	if _, err := s.Claim(ctx, "t1", "nope", time.Now(), time.Minute); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing message: %v, want ErrNotFound", err)
	}
	if _, err := s.Settle(ctx, "t1", m.ID, 2, func(*domain.Message, domain.Conversation) error { return nil }); !errors.Is(err, store.ErrStale) {
		t.Fatalf("settle with the wrong attempt: %v, want ErrStale", err)
	}
}

func TestTemplatesPaging(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for _, id := range []string{"c", "a", "b"} {
		if err := s.PutTemplate(ctx, "t1", domain.Template{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	list, next, err := s.Templates(ctx, "t1", 2, "")
	if err != nil || len(list) != 2 || list[0].ID != "a" || list[1].ID != "b" || next != "b" {
		t.Fatalf("page 1 = %v next %q err %v", list, next, err)
	}
	list, next, err = s.Templates(ctx, "t1", 2, next)
	if err != nil || len(list) != 1 || list[0].ID != "c" || next != "" {
		t.Fatalf("page 2 = %v next %q err %v", list, next, err)
	}
}

// Ids and names a client sent that Firestore would refuse (its client
// retries the refusal until the deadline) name nothing: lookups answer
// ErrNotFound and cursors ErrBadPageToken at once, without a round trip.
func TestUnnameableIdsNameNothing(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.PutTemplate(ctx, "t1", domain.Template{ID: "a", Name: "welcome"}); err != nil {
		t.Fatal(err)
	}
	bad := "\xff\xfe"
	if _, err := s.Template(ctx, "t1", bad); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("template %q: %v, want ErrNotFound", bad, err)
	}
	if _, err := s.Message(ctx, "t1", bad); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("message %q: %v, want ErrNotFound", bad, err)
	}
	for _, name := range []string{bad, strings.Repeat("a", store.MaxTemplateName+1), strings.Repeat("a", 2000)} {
		if _, err := s.TemplateByName(ctx, "t1", name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("template named %.20q…: %v, want ErrNotFound", name, err)
		}
	}
	if _, _, err := s.Templates(ctx, "t1", 10, bad); !errors.Is(err, store.ErrBadPageToken) {
		t.Errorf("templates after %q: %v, want ErrBadPageToken", bad, err)
	}
	if tpl, err := s.TemplateByName(ctx, "t1", "welcome"); err != nil || tpl.ID != "a" {
		t.Errorf("template named welcome: %+v, %v", tpl, err)
	}
}

// TestClaimAcceptedOnce claims messages as a dispatch job carries them
// (through the job's JSON): one of many concurrent claims of a carried
// message wins, and a carried message changed since it was accepted is
// claimed only by what is stored.
func TestClaimAcceptedOnce(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	carried := func(m domain.Message) domain.Message {
		t.Helper()
		v, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: m.PhoneNumber}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(queue.Job{Tenant: m.Tenant, Message: m.ID, Accepted: &m, Version: v})
		if err != nil {
			t.Fatal(err)
		}
		var j queue.Job
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatal(err)
		}
		c, ok := j.Carried()
		if !ok {
			t.Fatalf("job %s carries no message", b)
		}
		return c
	}
	m := msg("t1", "5511987650013", time.Now().UTC())
	m.Template.Components = []domain.Component{{Type: "body", Parameters: []domain.Parameter{{Type: "text", Text: "Ana"}}}}
	c := carried(m)
	var wins atomic.Int32
	var g errgroup.Group
	for range 5 {
		g.Go(func() error {
			got, err := s.ClaimAccepted(ctx, c, time.Now(), time.Minute)
			if errors.Is(err, store.ErrStale) {
				return nil
			}
			if err != nil {
				return err
			}
			if got.Status != domain.StatusDispatching || got.Attempts != 1 || got.Version.IsZero() {
				return fmt.Errorf("claim = %+v", got)
			}
			wins.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if wins.Load() != 1 {
		t.Fatalf("%d claims won, want 1", wins.Load())
	}
	stored, err := s.Message(ctx, "t1", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != domain.StatusDispatching || len(stored.History) != 2 || !reflect.DeepEqual(stored.Template, m.Template) {
		t.Fatalf("stored = %+v", stored)
	}

	// Claimed (and given back) since it was accepted: the carried copy's
	// version is stale, and what is stored decides.
	other := carried(msg("t1", "5511987650014", time.Now().UTC()))
	if _, err := s.Claim(ctx, "t1", other.ID, time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimAccepted(ctx, other, time.Now(), time.Minute); !errors.Is(err, store.ErrStale) {
		t.Fatalf("claim of a changed message: %v, want ErrStale", err)
	}
	gone := msg("t1", "5511987650015", time.Now().UTC())
	gone.Version = time.Now().Truncate(time.Microsecond)
	if _, err := s.ClaimAccepted(ctx, gone, time.Now(), time.Minute); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim of a message never stored: %v, want ErrNotFound", err)
	}
}

package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// deadURL is the receiver of the test's dead letters; its query is the
// receiver's own secret, which no page may show.
const deadURL = "https://hooks.example.com/in/wa?key=receiver-secret"

// deadLetter records, as the callbacks function does on a job's last
// attempt, a dead letter of the demo tenant for a status event of
// message, given up on at at; it returns the job.
func (s *stack) deadLetter(t *testing.T, message string, n int, at time.Time) callback.Job {
	t.Helper()
	j := callback.Job{Tenant: s.Tenant, URL: deadURL, Event: callback.Event{
		ID: message + "." + strconv.Itoa(n), Type: callback.EventType, MessageID: message, Status: domain.StatusDelivered, Timestamp: at.UTC(),
	}}
	raw, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Store.RecordDeadLetter(context.Background(), s.Tenant, store.DeadLetter{
		ID: j.Event.ID, Kind: store.DeadLetterCallback, EventType: j.Event.Type, MessageID: message, Host: "https://hooks.example.com",
		Error: "answered 503 Service Unavailable", Attempts: 10, At: at.UTC(), ExpireAt: at.AddDate(0, 0, 90), Job: raw,
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// otherSession signs a browser in to tenant, a second tenant sharing the
// demo's grant, and returns it with its CSRF token.
func (s *stack) otherSession(t *testing.T, tenant string) (*http.Client, string) {
	t.Helper()
	ctx := context.Background()
	grant, err := s.Store.Token(ctx, store.HashToken(apptest.Token))
	if err != nil {
		t.Fatal(err)
	}
	grant.Tenant = tenant
	if err := s.Store.PutTenant(ctx, domain.Tenant{ID: tenant, Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	token := tenant + "-token"
	if err := s.Store.PutToken(ctx, token, grant); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	return c, csrfOf(t, s.signIn(t, c, token))
}

// The problems page lists the tenant's dead letters, newest first and a
// page at a time, without the receiver's URL; Replay puts the stored job
// back on the callbacks topic and deletes the letter; another tenant can
// neither see nor replay it.
func TestDeadLettersListAndReplay(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	replayed := make(chan callback.Job, 4)
	s.Push(t, callbacksTopic, func(_ context.Context, e event.Event) error {
		d, err := queue.Decode(e)
		if err != nil {
			return err
		}
		var j callback.Job
		if err := json.Unmarshal(d.Data, &j); err != nil {
			return err
		}
		replayed <- j
		return nil
	})
	c := browser(t)
	csrf := csrfOf(t, s.signIn(t, c, apptest.Token))
	if _, page, _ := get(t, c, s.console+"channels"); !strings.Contains(page, "No dead letters.") {
		t.Fatalf("a tenant without dead letters:\n%s", page)
	}

	// One page and one more: the oldest is on the second page.
	now := time.Now().UTC().Truncate(time.Second)
	oldest := s.deadLetter(t, "m-old", 4, now.Add(-time.Hour))
	for i := range 19 {
		s.deadLetter(t, "m-page", i+1, now.Add(-time.Duration(20-i)*time.Minute))
	}
	newest := s.deadLetter(t, "m-dead", 3, now)
	code, page, _ := get(t, c, s.console+"channels")
	for _, want := range []string{`action="./deadletters/` + newest.Event.ID + `/replay"`, `href="./messages/m-dead"`,
		"https://hooks.example.com", "answered 503 Service Unavailable", callback.EventType, "Older dead letters"} {
		if code != http.StatusOK || !strings.Contains(page, want) {
			t.Errorf("the problems page: %d, no %q", code, want)
		}
	}
	if strings.Contains(page, "receiver-secret") || strings.Contains(page, "/in/wa") {
		t.Errorf("the problems page shows the callback URL's path or query")
	}
	if strings.Index(page, newest.Event.ID) > strings.Index(page, "m-page.19") || strings.Contains(page, oldest.Event.ID) {
		t.Errorf("page 1 is not the 20 newest, newest first")
	}
	_, more, ok := strings.Cut(page, `<a href="./channels?deadletters=`)
	if !ok {
		t.Fatal("no link to the older dead letters")
	}
	tok, _, _ := strings.Cut(more, `#`)
	if _, page, _ := get(t, c, s.console+"channels?deadletters="+tok); !strings.Contains(page, oldest.Event.ID) || strings.Contains(page, newest.Event.ID) {
		t.Errorf("page 2 does not hold the oldest alone:\n%s", page)
	}
	if code, page, _ := get(t, c, s.console+"channels?deadletters=garbage!"); code != http.StatusOK || !strings.Contains(page, "no longer valid") || !strings.Contains(page, newest.Event.ID) {
		t.Errorf("a forged page token: %d, want the first page saying so", code)
	}

	// Another tenant finds nothing to list or replay.
	other, otherCSRF := s.otherSession(t, "console-dead-other")
	if _, page, _ := get(t, other, s.console+"channels"); !strings.Contains(page, "No dead letters.") || strings.Contains(page, newest.Event.ID) {
		t.Errorf("another tenant's problems page lists the demo's dead letters")
	}
	replay := s.console + "deadletters/" + newest.Event.ID + "/replay"
	if code, _, _ := post(t, other, replay, url.Values{"csrf": {otherCSRF}}); code != http.StatusNotFound {
		t.Errorf("another tenant's replay: %d, want 404", code)
	}
	if code, _, _ := post(t, c, replay, nil); code != http.StatusForbidden {
		t.Errorf("a replay without the CSRF token: %d, want 403", code)
	}
	if _, err := s.Store.DeadLetter(ctx, s.Tenant, newest.Event.ID); err != nil {
		t.Fatalf("a refused replay removed the dead letter: %v", err)
	}

	code, _, loc := post(t, c, replay, url.Values{"csrf": {csrf}})
	if code != http.StatusSeeOther || loc != "../../channels?done=replayed#dead-letters" {
		t.Fatalf("replay: %d %q", code, loc)
	}
	select {
	case j := <-replayed:
		if j != newest {
			t.Errorf("replayed job %+v, want %+v", j, newest)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the replayed job never reached the callbacks topic")
	}
	if _, err := s.Store.DeadLetter(ctx, s.Tenant, newest.Event.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the replayed dead letter is still stored: %v", err)
	}
	if _, page, _ := get(t, c, s.console+"channels?done=replayed"); !strings.Contains(page, "on its way again") || strings.Contains(page, newest.Event.ID) {
		t.Errorf("the page after the replay:\n%s", page)
	}
	if code, page, _ := post(t, c, replay, url.Values{"csrf": {csrf}}); code != http.StatusNotFound || !strings.Contains(page, "replayed already") {
		t.Errorf("replaying it again: %d, want 404 saying it is gone", code)
	}
}

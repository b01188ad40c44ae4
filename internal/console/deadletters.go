package console

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// deadLettersShown is a page of the problems page's dead letters.
const deadLettersShown = 20

// deadLetters are a page of the tenant's callbacks the gateway gave up
// on, newest first, as the problems page lists them.
type deadLetters struct {
	List []store.DeadLetter
	// Next is the page token of older letters, "" on the last page;
	// Paged says this is not the first page.
	Next  string
	Paged bool
	// Problem says why the page asked for could not be shown.
	Problem string
	// Replay offers each letter's replay: a publisher is wired.
	Replay bool
	// Replayed says the last replay went out.
	Replayed bool
}

// deadLetters reads the page of dead letters the request's query names
// (deadletters=<page token>). A token the store did not issue shows the
// first page and says so: the query string is anyone's to write.
func (c *Console) deadLetters(r *http.Request, tenant string) (deadLetters, error) {
	ctx := r.Context()
	q := r.URL.Query()
	d := deadLetters{Replay: c.deps.Callbacks != nil, Replayed: q.Get("done") == "replayed"}
	tok := q.Get("deadletters")
	list, next, err := c.deps.Store.DeadLetters(ctx, tenant, deadLettersShown, tok)
	if errors.Is(err, store.ErrBadPageToken) {
		d.Problem = "That page link is no longer valid: here are the newest dead letters."
		tok = ""
		list, next, err = c.deps.Store.DeadLetters(ctx, tenant, deadLettersShown, "")
	}
	if err != nil {
		return d, err
	}
	d.List, d.Next, d.Paged = list, next, tok != ""
	return d, nil
}

// goneLetter is the refusal of a dead letter that is not the tenant's:
// replayed already, expired, or never there.
const goneLetter = "There is no such dead letter: it was replayed already, or it expired."

// replayDeadLetter publishes a dead letter's callback job back to the
// callbacks topic, as the notifier first published it, and deletes the
// letter. The callbacks function then delivers it as any other: the same
// event id, signed afresh. The letter is deleted only once the topic has
// the job, so a failed publish loses nothing; a letter also replayed by
// the operator's CLI is delivered twice, which receivers deduplicate by
// event id.
func (c *Console) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant, id := sessionOf(ctx).Tenant, chi.URLParam(r, "id")
	log := logging.FromContext(ctx).With("tenant", tenant, "eventId", id)
	// Looked up under the signed-in tenant only: another tenant's id is
	// a 404 whatever was posted.
	dl, err := c.deps.Store.DeadLetter(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, goneLetter)
		return
	}
	if err != nil {
		c.internal(w, r, err)
		return
	}
	// The job names the tenant the callbacks function signs for; it must
	// be the one whose letter this is.
	var j struct {
		Tenant string `json:"tenant"`
		Event  struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	if err := json.Unmarshal(dl.Job, &j); err != nil || j.Tenant != tenant || j.Event.ID != id {
		log.Error("console: a dead letter's job is not its own tenant's event; not replayed", "jobTenant", j.Tenant)
		c.fail(w, r, http.StatusConflict, "This dead letter cannot be replayed from the console. The operator can replay it from Pub/Sub.")
		return
	}
	if c.deps.Callbacks == nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Replaying is not available in this deployment. The operator can replay dead letters from Pub/Sub.")
		return
	}
	if err := c.deps.Callbacks.PublishJSON(ctx, json.RawMessage(dl.Job), map[string]string{"tenant": tenant, "event": id}); err != nil {
		log.Error("console: dead letter not replayed: the callbacks topic refused it", "error", err.Error())
		c.fail(w, r, http.StatusServiceUnavailable, "Not replayed: the callbacks queue did not take it. The dead letter is kept; try again in a moment.")
		return
	}
	if err := c.deps.Store.DeleteDeadLetter(ctx, tenant, id); err != nil {
		// The callback is on its way; the letter stays listed, and a
		// second replay sends an event receivers already deduplicate.
		log.Error("console: dead letter replayed but not deleted", "error", err.Error())
	}
	log.Info("console: dead letter replayed")
	redirect(w, "../../channels?done=replayed#dead-letters", http.StatusSeeOther)
}

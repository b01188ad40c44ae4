package console

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
)

// Broadcasts reads broadcasts (bulk sends), by the code their clients
// know them by.
type Broadcasts interface {
	List(ctx context.Context, tenant string, limit int, pageToken string) ([]batch.Progress, string, error)
	Progress(ctx context.Context, tenant, code string) (batch.Progress, error)
	Items(ctx context.Context, tenant, code string, yield func(batch.Item) error) error
}

// BroadcastControl pauses, resumes and cancels a broadcast. The
// broadcast page shows its buttons only when the Broadcasts it was given
// offers this too.
type BroadcastControl interface {
	Pause(ctx context.Context, tenant, code string) (batch.Progress, error)
	Resume(ctx context.Context, tenant, code string) (batch.Progress, error)
	Cancel(ctx context.Context, tenant, code string) (batch.Progress, error)
}

// broadcastsView answers "how are my broadcasts going".
type broadcastsView struct {
	page
	Broadcasts []batch.Progress
	Next       string
}

func (c *Console) broadcasts(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	list, next, err := c.deps.Broadcasts.List(ctx, sessionOf(ctx).Tenant, pageSize, r.URL.Query().Get("page"))
	if domain.KindOf(err) == domain.KindInvalid {
		c.fail(w, r, http.StatusBadRequest, "That page link is not valid: start from the first page.")
		return
	}
	if err != nil {
		c.internal(w, r, err)
		return
	}
	v := broadcastsView{page: c.page(r, "Broadcasts", "broadcasts"), Broadcasts: list}
	if next != "" {
		v.Next = url.Values{"page": {next}}.Encode()
	}
	c.render(w, r, http.StatusOK, "broadcasts", v)
}

// broadcastView answers "how is this broadcast going, and who got it":
// counts per state, its recipients a page at a time, and the buttons that
// steer it.
type broadcastView struct {
	page
	Progress batch.Progress
	Items    []batch.Item
	From     int
	Next     string
	// Steer is true when the service can pause, resume and cancel.
	Steer bool
	Done  string
}

// Rows are the progress counts in the order of a message's life.
func (v broadcastView) Rows() []row {
	c := v.Progress.Counts
	if c == nil {
		return nil
	}
	return []row{
		{"accepted", "Waiting to send", c.Accepted}, {"held", "Held (channel cannot send)", c.Held},
		{"dispatching", "Being sent", c.Dispatching}, {"pending", "Taken by Meta", c.Pending},
		{"sent", "Sent", c.Sent}, {"delivered", "Delivered", c.Delivered}, {"read", "Read", c.Read},
		{"failed", "Failed", c.Failed}, {"unknown", "Unknown outcome", c.Unknown},
		{"cancelled", "Cancelled", c.Cancelled}, {"refused", "Refused by the gateway", c.Refused},
	}
}

// row is one labelled count.
type row struct {
	Key, Label string
	N          int
}

// steered is what the page says after each action: only these are
// echoed, as the query string is anyone's to write.
var steered = map[string]string{"pause": "paused", "resume": "resumed", "cancel": "cancelled"}

// itemsPage is how many recipients the broadcast page lists at once. A
// later page reads the recipients before it (they are stored in chunks,
// in order), so deep pages cost more: the CSV has them all.
const itemsPage = 100

// errEnough stops Items once a page is full.
var errEnough = errors.New("page full")

func (c *Console) broadcast(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant, code := sessionOf(ctx).Tenant, chi.URLParam(r, "id")
	p, ok := c.progress(w, r, tenant, code)
	if !ok {
		return
	}
	from, _ := strconv.Atoi(r.URL.Query().Get("from"))
	from = max(from, 0)
	v := broadcastView{page: c.page(r, "Broadcast "+code, "broadcasts"), Progress: p, From: from, Done: steered[r.URL.Query().Get("done")]}
	_, v.Steer = c.deps.Broadcasts.(BroadcastControl)
	v.Live = "broadcasts/" + url.PathEscape(code) + "/progress.json"
	i := 0
	err := c.deps.Broadcasts.Items(ctx, tenant, code, func(it batch.Item) error {
		defer func() { i++ }()
		switch {
		case i < from:
			return nil
		case i >= from+itemsPage:
			v.Next = url.Values{"from": {strconv.Itoa(i)}}.Encode()
			return errEnough
		}
		v.Items = append(v.Items, it)
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		c.internal(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "broadcast", v)
}

// progress reads a broadcast, answering the request itself when it
// cannot.
func (c *Console) progress(w http.ResponseWriter, r *http.Request, tenant, code string) (batch.Progress, bool) {
	p, err := c.deps.Broadcasts.Progress(r.Context(), tenant, code)
	switch {
	case domain.KindOf(err) == domain.KindNotFound:
		c.fail(w, r, http.StatusNotFound, "There is no such broadcast.")
		return p, false
	case err != nil:
		c.internal(w, r, err)
		return p, false
	}
	return p, true
}

// broadcastFigures are a broadcast's counts for the live script.
func (c *Console) broadcastFigures(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := c.progress(w, r, sessionOf(ctx).Tenant, chi.URLParam(r, "id"))
	if !ok {
		return
	}
	figures := map[string]string{"state": string(p.State)}
	for _, row := range (broadcastView{Progress: p}).Rows() {
		figures[row.Key] = count(row.N)
	}
	writeJSON(w, figures)
}

// broadcastCSV streams every recipient's outcome: Items reads a chunk at
// a time, so memory stays flat whatever the broadcast's size.
func (c *Console) broadcastCSV(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant, code := sessionOf(ctx).Tenant, chi.URLParam(r, "id")
	if _, ok := c.progress(w, r, tenant, code); !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="broadcast-`+safeName(code)+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"phone", "as_given", "status", "reason", "refused_by_gateway"})
	err := c.deps.Broadcasts.Items(ctx, tenant, code, func(it batch.Item) error {
		return cw.Write([]string{cell(it.Phone), cell(it.Raw), string(it.Status), cell(it.Reason), strconv.FormatBool(it.Refused)})
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		// The header is gone: the file ends short, and the log says why.
		logging.FromContext(ctx).Error("console: broadcast CSV cut short", "error", err.Error())
	}
}

// cell keeps a spreadsheet from reading a value as a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// safeName keeps a file name to letters, digits, dashes and underscores.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// steerBroadcast pauses, resumes or cancels a broadcast.
func (c *Console) steerBroadcast(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ctl, ok := c.deps.Broadcasts.(BroadcastControl)
	if !ok {
		c.fail(w, r, http.StatusNotFound, "Broadcasts cannot be steered here.")
		return
	}
	tenant, code := sessionOf(ctx).Tenant, chi.URLParam(r, "id")
	var err error
	switch action := chi.URLParam(r, "action"); action {
	case "pause":
		_, err = ctl.Pause(ctx, tenant, code)
	case "resume":
		_, err = ctl.Resume(ctx, tenant, code)
	case "cancel":
		// Cancelling cannot be undone: its form asks first. Another
		// tenant's code is still a 404, whatever was posted with it.
		if _, ok := c.progress(w, r, tenant, code); !ok {
			return
		}
		if !confirmed(r) {
			c.fail(w, r, http.StatusBadRequest, notConfirmed)
			return
		}
		_, err = ctl.Cancel(ctx, tenant, code)
	default:
		c.fail(w, r, http.StatusNotFound, "There is no such action.")
		return
	}
	var de *domain.Error
	switch {
	case err == nil:
	case domain.KindOf(err) == domain.KindNotFound:
		c.fail(w, r, http.StatusNotFound, "There is no such broadcast.")
		return
	case domain.KindOf(err) == domain.KindConflict && errors.As(err, &de):
		c.fail(w, r, http.StatusConflict, "Not done: "+de.Message+".")
		return
	default:
		c.internal(w, r, err)
		return
	}
	logging.FromContext(ctx).Info("console: broadcast steered", "tenant", tenant, "action", chi.URLParam(r, "action"))
	redirect(w, "../"+url.PathEscape(code)+"?done="+url.QueryEscape(chi.URLParam(r, "action")), http.StatusSeeOther)
}

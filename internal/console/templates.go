package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// templatesView answers "which templates can I send, and what does each
// need": Meta's status and quality, and the params a send must supply.
type templatesView struct {
	page
	Templates []domain.Template
	Next      string
	// CanSync is true when the console can pull templates from Meta.
	CanSync bool
	// Synced is the last sync's outcome, shown once after it.
	Synced *SyncResult
}

func (c *Console) templates(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	list, next, err := c.deps.Store.Templates(ctx, sessionOf(ctx).Tenant, pageSize, q.Get("after"))
	if errors.Is(err, store.ErrBadPageToken) {
		c.fail(w, r, http.StatusBadRequest, "That page link is not valid: start from the first page.")
		return
	}
	if err != nil {
		c.internal(w, r, err)
		return
	}
	v := templatesView{page: c.page(r, "Templates", "templates"), Templates: list, CanSync: c.deps.Sync != nil}
	if next != "" {
		v.Next = url.Values{"after": {next}}.Encode()
	}
	if q.Has("synced") {
		atoi := func(k string) int { n, _ := strconv.Atoi(q.Get(k)); return n }
		v.Synced = &SyncResult{Added: atoi("added"), Updated: atoi("updated"), Unchanged: atoi("unchanged")}
		if n := atoi("notApproved"); n > 0 {
			v.Synced.NotApproved = make([]string, n)
		}
	}
	c.render(w, r, http.StatusOK, "templates", v)
}

// syncTemplates pulls the tenant's templates from Meta, as the CLI's
// templates sync does, and shows what changed.
func (c *Console) syncTemplates(w http.ResponseWriter, r *http.Request) {
	if c.deps.Sync == nil {
		c.fail(w, r, http.StatusNotFound, "Templates cannot be synced from here.")
		return
	}
	ctx := r.Context()
	tenant := sessionOf(ctx).Tenant
	res, err := c.deps.Sync.SyncTemplates(ctx, tenant)
	if err != nil {
		logging.FromContext(ctx).Error("console: template sync failed", "tenant", tenant, "error", err.Error())
		c.fail(w, r, http.StatusBadGateway, "Meta's templates could not be synced. Check the channel's access token and try again.")
		return
	}
	q := url.Values{"synced": {"1"}, "added": {strconv.Itoa(res.Added)}, "updated": {strconv.Itoa(res.Updated)},
		"unchanged": {strconv.Itoa(res.Unchanged)}, "notApproved": {strconv.Itoa(len(res.NotApproved))}}
	redirect(w, "../templates?"+q.Encode(), http.StatusSeeOther)
}

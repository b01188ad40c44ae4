package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// pageSize is how many rows a listing shows per page.
const pageSize = 50

// search is the messages page's form, as the query string carries it.
type search struct {
	Phone, Status, Template, From, To string
}

// messagesView answers "what happened to the messages I sent to …".
type messagesView struct {
	page
	Search    search
	Problems  []string
	Messages  []domain.Message
	Templates []domain.Template
	// Next is the query string of the next page, "" on the last.
	Next     string
	Filtered bool
}

// States lists the states the search offers.
func (messagesView) States() []domain.Status { return statusOrder }

// filter checks the search and turns it into the store's filter; each
// problem is said in words the form's labels use.
func (s search) filter() (store.MessageFilter, []string) {
	var f store.MessageFilter
	var problems []string
	if s.Phone != "" {
		if strings.Trim(s.Phone, "0123456789") != "" || len(s.Phone) > 20 {
			problems = append(problems, "Phone number: digits only, country code first, no +.")
		}
		f.Phone = s.Phone
	}
	if s.Status != "" {
		if !domain.Status(s.Status).Valid() {
			problems = append(problems, "State: choose one from the list.")
		}
		f.Status = domain.Status(s.Status)
	}
	if s.Template != "" {
		if !store.ValidID(s.Template) {
			problems = append(problems, "Template: choose one from the list.")
		}
		f.TemplateID = s.Template
	}
	for _, d := range []struct {
		label, value string
		into         *time.Time
		next         bool
	}{{"From", s.From, &f.From, false}, {"To", s.To, &f.To, true}} {
		if d.value == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", d.value)
		if err != nil {
			problems = append(problems, d.label+": a date as YYYY-MM-DD.")
			continue
		}
		if d.next {
			t = t.AddDate(0, 0, 1) // the To day is included
		}
		*d.into = t
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		problems = append(problems, "From must not be after To.")
	}
	return f, problems
}

func (c *Console) messages(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant := sessionOf(ctx).Tenant
	q := r.URL.Query()
	s := search{
		Phone: strings.TrimPrefix(strings.TrimSpace(q.Get("phone")), "+"), Status: q.Get("status"),
		Template: q.Get("template"), From: q.Get("from"), To: q.Get("to"),
	}
	v := messagesView{page: c.page(r, "Messages", "messages"), Search: s}
	f, problems := s.filter()
	v.Problems = problems
	v.Filtered = s != search{}
	err := parallel(
		func() (err error) {
			// The first page of templates fills the form's list; a tenant
			// with more can still type the id into the query string.
			v.Templates, _, err = c.deps.Store.Templates(ctx, tenant, 200, "")
			return err
		},
		func() error {
			if len(problems) > 0 {
				return nil
			}
			list, next, err := c.deps.Store.Messages(ctx, tenant, f, pageSize, q.Get("page"))
			if errors.Is(err, store.ErrBadPageToken) {
				v.Problems = append(v.Problems, "That page link is no longer valid: start from the first page.")
				return nil
			}
			v.Messages = list
			if next != "" {
				nq := url.Values{}
				for k, val := range map[string]string{"phone": s.Phone, "status": s.Status, "template": s.Template, "from": s.From, "to": s.To, "page": next} {
					if val != "" {
						nq.Set(k, val)
					}
				}
				v.Next = nq.Encode()
			}
			return err
		},
	)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	code := http.StatusOK
	if len(v.Problems) > 0 {
		code = http.StatusBadRequest
	}
	c.render(w, r, code, "messages", v)
}

// messageView answers "what happened to this message": its timeline,
// Meta's error, attempts, and who it went to.
type messageView struct {
	page
	Message domain.Message
	Contact *domain.Contact
	// Resolve offers the operator's settlements: only an unknown message
	// is settled by hand, every other state is Meta's word or the
	// gateway's own.
	Resolve bool
	// Done says what the last resolution did.
	Done string
}

func (c *Console) message(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant := sessionOf(ctx).Tenant
	m, err := c.deps.Store.Message(ctx, tenant, chi.URLParam(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, "There is no such message.")
		return
	}
	if err != nil {
		c.internal(w, r, err)
		return
	}
	v := messageView{page: c.page(r, "Message "+m.ID, "messages"), Message: m, Resolve: m.Status == domain.StatusUnknown}
	// Only the settlements this console makes are echoed: the query
	// string is anyone's to write.
	if as, err := domain.ParseSettlement(r.URL.Query().Get("done")); err == nil {
		v.Done = "resolved as " + string(as)
	}
	if ct, err := c.deps.Store.Contact(ctx, tenant, m.PhoneNumber); err == nil {
		v.Contact = &ct
	} else if !errors.Is(err, store.ErrNotFound) {
		c.internal(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "message", v)
}

// resolveMessage settles an unknown message by hand, as the CLI's
// templategw messages resolve does and through the same store call:
// sent (Meta has it), failed (it will not be sent) or resend (dispatch
// sends it again). It cannot be undone, so the form must be confirmed.
func (c *Console) resolveMessage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant, id := sessionOf(ctx).Tenant, chi.URLParam(r, "id")
	// Whose message it is comes before what the form says: another
	// tenant's id is a 404 whatever was posted with it.
	if _, err := c.deps.Store.Message(ctx, tenant, id); errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, "There is no such message.")
		return
	} else if err != nil {
		c.internal(w, r, err)
		return
	}
	as, err := domain.ParseSettlement(r.PostFormValue("as"))
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, "Choose what became of the message: sent, failed or resend.")
		return
	}
	if !confirmed(r) {
		c.fail(w, r, http.StatusBadRequest, notConfirmed)
		return
	}
	m, err := c.deps.Store.SettleUnknown(ctx, tenant, id, as, c.cfg.Now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, "There is no such message.")
		return
	case errors.Is(err, store.ErrStale):
		c.fail(w, r, http.StatusConflict, "Not done: the message's outcome is no longer unknown (Meta's webhook or the gateway settled it meanwhile). Reload its page.")
		return
	case err != nil:
		c.internal(w, r, err)
		return
	}
	log := logging.FromContext(ctx)
	if as == domain.SettleResend && c.deps.Dispatch != nil {
		if err := c.deps.Dispatch.Publish(ctx, queue.Job{Tenant: tenant, Message: m.ID, Channel: m.Channel}); err != nil {
			// The message is accepted again whatever happens here, and
			// sweep republishes accepted messages: the resend is late,
			// not lost.
			log.Error("console: resend not published; sweep republishes it", "tenant", tenant, "message", m.ID, "error", err.Error())
		}
	}
	log.Info("console: unknown message resolved", "tenant", tenant, "message", m.ID, "as", string(as))
	redirect(w, "../"+url.PathEscape(m.ID)+"?done="+url.QueryEscape(string(as)), http.StatusSeeOther)
}

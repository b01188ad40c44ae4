package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// contactsView answers "who are my contacts", a page at a time in phone
// order, with a lookup by number.
type contactsView struct {
	page
	Phone    string
	Problem  string
	Contacts []domain.Contact
	Next     string
}

func (c *Console) contacts(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant := sessionOf(ctx).Tenant
	v := contactsView{page: c.page(r, "Contacts", "contacts")}
	if phone := strings.TrimPrefix(strings.TrimSpace(r.URL.Query().Get("phone")), "+"); phone != "" {
		v.Phone = phone
		_, err := c.deps.Store.Contact(ctx, tenant, phone)
		switch {
		case err == nil:
			redirect(w, "contacts/"+url.PathEscape(phone), http.StatusSeeOther)
			return
		case errors.Is(err, store.ErrNotFound):
			v.Problem = "No contact has that number."
		default:
			c.internal(w, r, err)
			return
		}
	}
	list, next, err := c.deps.Store.ContactsAfter(ctx, tenant, r.URL.Query().Get("after"), pageSize)
	if errors.Is(err, store.ErrBadPageToken) {
		c.fail(w, r, http.StatusBadRequest, "That page link is not valid: start from the first page.")
		return
	}
	if err != nil {
		c.internal(w, r, err)
		return
	}
	v.Contacts = list
	if next != "" {
		v.Next = url.Values{"after": {next}}.Encode()
	}
	code := http.StatusOK
	if v.Problem != "" {
		code = http.StatusNotFound
	}
	c.render(w, r, code, "contacts", v)
}

// contactView answers "what do I know of this person": attributes,
// marketing opt-out, and per channel the open conversation and the
// customer-service window, with the latest messages sent to them.
type contactView struct {
	page
	Contact  domain.Contact
	Channels []contactChannel
	Params   []param
	Messages []domain.Message
	More     string
	// Done says what the last marketing action did.
	Done string
}

// marketingActions are the contact page's marketing forms: whether each
// opts out, and what the page says once it is done.
var marketingActions = map[string]struct {
	out  bool
	done string
}{
	"opt-out": {true, "opted out of marketing"},
	"opt-in":  {false, "opted back in to marketing"},
}

// contactChannel is the contact as seen from one of the tenant's numbers.
type contactChannel struct {
	Channel      domain.Channel
	Conversation *domain.Conversation
	WindowOpen   bool
	WindowUntil  time.Time
	Chat         domain.ChatStatus
}

// param is one of the tenant's own attributes of the contact.
type param struct{ Name, Value string }

// contactMessages bounds the messages the contact page lists; the link
// under them opens the full search.
const contactMessages = 20

func (c *Console) contact(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant := sessionOf(ctx).Tenant
	phone := chi.URLParam(r, "phone")
	ct, err := c.deps.Store.Contact(ctx, tenant, phone)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, "There is no such contact.")
		return
	}
	if err != nil {
		c.internal(w, r, err)
		return
	}
	v := contactView{page: c.page(r, "Contact "+ct.FullName(), "contacts"), Contact: ct}
	if a, ok := marketingActions[r.URL.Query().Get("done")]; ok {
		v.Done = a.done
	}
	for name, val := range ct.CustomParams {
		v.Params = append(v.Params, param{name, val})
	}
	slices.SortFunc(v.Params, func(a, b param) int { return strings.Compare(a.Name, b.Name) })
	var chans []domain.Channel
	err = parallel(
		func() (err error) {
			chans, err = c.deps.Store.Channels(ctx, tenant)
			return err
		},
		func() error {
			list, next, err := c.deps.Store.Messages(ctx, tenant, store.MessageFilter{Phone: ct.Phone}, contactMessages, "")
			v.Messages = list
			if next != "" {
				v.More = url.Values{"phone": {ct.Phone}}.Encode()
			}
			return err
		},
	)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	now := c.cfg.Now()
	v.Channels = make([]contactChannel, len(chans))
	jobs := make([]func() error, len(chans))
	for i, ch := range chans {
		cc := &v.Channels[i]
		*cc = contactChannel{Channel: ch, WindowOpen: ct.WindowOpen(ch.ID, now), WindowUntil: ct.Windows[ch.ID], Chat: ct.ChatStatus[ch.ID]}
		jobs[i] = func() error {
			conv, err := c.deps.Store.Conversation(ctx, tenant, ch.ID, ct.Phone)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err == nil && conv.Open(now) {
				cc.Conversation = &conv
			}
			return err
		}
	}
	if err := parallel(jobs...); err != nil {
		c.internal(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "contact", v)
}

// setMarketing opts a contact out of marketing, or back in, as the
// operator: the same store call as Meta's and the keywords' opt-outs, so
// the newest change wins whoever made it. Opting back in overrides what
// the contact may have asked, so that form must be confirmed. Only a
// stored contact is changed: a form cannot create one.
func (c *Console) setMarketing(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant, phone := sessionOf(ctx).Tenant, chi.URLParam(r, "phone")
	a, ok := marketingActions[chi.URLParam(r, "action")]
	if !ok {
		c.fail(w, r, http.StatusNotFound, "There is no such action.")
		return
	}
	if _, err := c.deps.Store.Contact(ctx, tenant, phone); errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, "There is no such contact.")
		return
	} else if err != nil {
		c.internal(w, r, err)
		return
	}
	if !a.out && !confirmed(r) {
		c.fail(w, r, http.StatusBadRequest, notConfirmed)
		return
	}
	if _, _, err := c.deps.Store.SetMarketingOptOut(ctx, tenant, phone, a.out, c.cfg.Now().UTC(), domain.OptOutByOperator); err != nil {
		c.internal(w, r, err)
		return
	}
	logging.FromContext(ctx).Info("console: marketing opt-out set", "tenant", tenant, "phone", domain.MaskPhone(phone), "out", a.out)
	redirect(w, "../"+url.PathEscape(phone)+"?done="+chi.URLParam(r, "action"), http.StatusSeeOther)
}

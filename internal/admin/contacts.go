package admin

import (
	"context"
	"errors"
	"io"
	"text/tabwriter"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// contactView is a contact as the CLI shows it: the number masked, as in
// every output that ends up in terminals and tickets, and its marketing
// opt-out state.
type contactView struct {
	Phone     string        `json:"phone"`
	Name      string        `json:"name,omitempty"`
	Marketing domain.OptOut `json:"marketing"`
}

func viewContact(c domain.Contact) contactView {
	v := contactView{Phone: domain.MaskPhone(c.Phone), Name: c.FullName(), Marketing: c.Marketing}
	if v.Name == c.Phone {
		v.Name = "" // a contact without a name is shown by its number: masked above
	}
	return v
}

func (c *CLI) contactsGet(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("contacts get", "show a contact and its marketing opt-out state")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	phone := f.fs.String("phone", "", "the contact's number, digits with country code (required)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant", "phone"); err != nil {
		return err
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	ct, err := st.Contact(ctx, *tenant, *phone)
	if errors.Is(err, store.ErrNotFound) {
		return f.errorf("--phone: tenant %s has no contact %s", *tenant, domain.MaskPhone(*phone))
	}
	if err != nil {
		return err
	}
	return emitContact(out, f.json, viewContact(ct))
}

func emitContact(out io.Writer, asJSON bool, v contactView) error {
	return emit(out, asJSON, v, func(tw *tabwriter.Writer) {
		row(tw, "phone", v.Phone)
		row(tw, "name", v.Name)
		state := "opted in"
		if v.Marketing.Out {
			state = "opted out"
		}
		row(tw, "marketing", state)
		row(tw, "since", stamp(v.Marketing.At))
		row(tw, "by", v.Marketing.Source)
	})
}

// contactsOptOut builds contacts optout and optin: an operator settles a
// contact's marketing consent, as the contact's own keyword would.
func (c *CLI) contactsOptOut(out bool) func(ctx context.Context, args []string, w io.Writer) error {
	name, summary := "contacts optin", "opt a contact back in to marketing messages"
	if out {
		name, summary = "contacts optout", "opt a contact out of marketing messages"
	}
	return func(ctx context.Context, args []string, w io.Writer) error {
		f := newFlags(name, summary)
		tenant := f.fs.String("tenant", "", "tenant id (required)")
		phone := f.fs.String("phone", "", "the contact's number, digits with country code (required)")
		if err := f.parse(args, w); err != nil {
			return err
		}
		if err := f.required("tenant", "phone"); err != nil {
			return err
		}
		p, err := domain.ParsePhone(*phone)
		if err != nil {
			return f.errorf("--phone: %v", err)
		}
		st, done, err := c.openTenant(ctx, f, *tenant)
		if err != nil {
			return err
		}
		defer done()
		ct, _, err := st.SetMarketingOptOut(ctx, *tenant, p, out, time.Now().UTC(), domain.OptOutByOperator)
		if err != nil {
			return err
		}
		return emitContact(w, f.json, viewContact(ct))
	}
}

package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/store"
)

// messagesGet shows a message as the messages API does (messages.ViewOf):
// the phone number masked to its last four digits, since CLI output ends
// up in terminals, tickets and chats just as API answers end up in logs.
func (c *CLI) messagesGet(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("messages get", "show one message: status, history, wamid, attempts and error")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	id := f.fs.String("id", "", "message id, the message_id a send answered (required)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant", "id"); err != nil {
		return err
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	m, err := st.Message(ctx, *tenant, *id)
	if errors.Is(err, store.ErrNotFound) {
		return f.errorf("--id: tenant %s has no message %s", *tenant, *id)
	}
	if err != nil {
		return err
	}
	v := messages.ViewOf(m)
	return emit(out, f.json, v, func(tw *tabwriter.Writer) {
		row(tw, "id", v.ID)
		row(tw, "status", v.Status)
		row(tw, "channel", v.Channel)
		row(tw, "phone", v.PhoneNumber)
		row(tw, "template", v.TemplateID)
		row(tw, "wamid", v.ProviderMessageID)
		row(tw, "conversation", v.ConversationID)
		row(tw, "attempts", v.Attempts)
		row(tw, "error", errorText(v.Error))
		row(tw, "pricing", pricingText(v.Pricing))
		row(tw, "created", stamp(v.CreatedAt))
		row(tw, "updated", stamp(v.UpdatedAt))
		fmt.Fprintln(tw)
		row(tw, "HISTORY", "AT")
		for _, h := range v.History {
			row(tw, h.Status, stamp(h.At))
		}
	})
}

// pricingText is Meta's pricing in one cell: category, billable or free,
// type and model ("marketing billable regular PMP").
func pricingText(p *domain.Pricing) string {
	if p == nil {
		return ""
	}
	bill := "free"
	if p.Billable {
		bill = "billable"
	}
	return strings.TrimSpace(strings.Join([]string{p.Category, bill, p.Type, p.Model}, " "))
}

func errorText(e *domain.MessageError) string {
	if e == nil {
		return ""
	}
	return fmt.Sprintf("%d %s", e.Code, e.Title)
}

func (c *CLI) messagesList(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("messages list", "list a tenant's messages, newest first, optionally by phone number and status")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	phone := f.fs.String("phone", "", "only messages to this number: digits, country code first")
	status := f.fs.String("status", "", "only messages in this state: accepted, dispatching, pending, sent, delivered, read, failed, unknown, held, cancelled")
	limit := f.fs.Int("limit", 50, "messages per page, 1 to 500")
	pageToken := f.fs.String("page-token", "", "continue after the page that printed this token")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant"); err != nil {
		return err
	}
	var filter store.MessageFilter
	if *phone != "" {
		p, err := domain.ParsePhone(*phone)
		if err != nil {
			return f.errorf("--phone: digits only, country code first, 8 to 15 digits")
		}
		filter.Phone = p
	}
	if *status != "" {
		filter.Status = domain.Status(*status)
		if !filter.Status.Valid() {
			return f.errorf("--status %q: want accepted, dispatching, pending, sent, delivered, read, failed, unknown, held or cancelled", *status)
		}
	}
	if *limit < 1 || *limit > 500 {
		return f.errorf("--limit %d: want 1 to 500", *limit)
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	list, next, err := st.Messages(ctx, *tenant, filter, *limit, *pageToken)
	if errors.Is(err, store.ErrBadPageToken) {
		return f.errorf("--page-token: not a token this command printed")
	}
	if err != nil {
		return err
	}
	views := make([]messages.View, 0, len(list))
	for _, m := range list {
		views = append(views, messages.ViewOf(m))
	}
	return emit(out, f.json, struct {
		Messages      []messages.View `json:"messages"`
		NextPageToken string          `json:"nextPageToken,omitempty"`
	}{views, next}, func(tw *tabwriter.Writer) {
		row(tw, "ID", "STATUS", "CHANNEL", "PHONE", "TEMPLATE", "ATTEMPTS", "PRICING", "ERROR", "CREATED")
		for _, v := range views {
			pricing := ""
			if v.Pricing != nil {
				pricing = v.Pricing.Category
				if !v.Pricing.Billable {
					pricing += " (free)"
				}
			}
			row(tw, v.ID, v.Status, v.Channel, v.PhoneNumber, v.TemplateID, v.Attempts, pricing, errorText(v.Error), stamp(v.CreatedAt))
		}
		if next != "" {
			fmt.Fprintf(tw, "\nMore: --page-token %s\n", next)
		}
	})
}

package accept

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// Plan is an admitted send, ready to commit.
type Plan struct {
	Message domain.Message
	Contact domain.Contact
	Tenant  domain.Tenant
	// Conversation is the contact's conversation on the channel as read
	// at admission; Open reports whether it was open then.
	Conversation domain.Conversation
	Open         bool
	// KeepContact says the stored contact already has all Contact says.
	KeepContact bool
	Now         time.Time
}

// acceptance is what committing the plan writes. Under a limited plan the
// store reserves the conversation in the same commit, or refuses it.
func (p Plan) acceptance() store.Acceptance {
	a := store.Acceptance{Message: p.Message, Contact: p.Contact, KeepContact: p.KeepContact, Now: p.Now}
	if !p.Open {
		a.Limit = p.Tenant.ConversationLimit
	}
	return a
}

// Admit runs every rule that can refuse one send, before anything is
// written: the channel, the tenant, the template and its approval and
// params (or, for a text, the contact's service window), and the
// contact's conversation. The plan's conversation limit is settled when
// the plan is committed, as a reservation.
func (s *Service) Admit(ctx context.Context, tok domain.Token, req Request) (Plan, error) {
	ch, tenant, err := s.resolve(ctx, tok, req.Channel, req.ChannelField)
	if err != nil {
		return Plan{}, err
	}
	now := s.opt.Now().UTC()
	p := Plan{Tenant: tenant, Now: now}
	var tpl domain.Template
	if req.Text == "" {
		// The template's refusals come before any read of the contact.
		if tpl, err = s.template(ctx, tok.Tenant, req.TemplateID, req.TemplateName); err != nil {
			return Plan{}, err
		}
	}
	// The contact and its conversation in one read: the window and the
	// opt-out rules need the one, the immediate answer the other, and
	// the commit skips the contact when it learns nothing new.
	rcpt, err := s.store.Recipient(ctx, tok.Tenant, ch.ID, req.Phone)
	if err != nil {
		return Plan{}, err
	}
	if req.Text != "" {
		p.Message, err = admitText(tok.Tenant, rcpt.Contact, ch, req, now)
	} else {
		p.Message, err = admitTemplate(tok.Tenant, tpl, rcpt.Contact, ch, req, now)
	}
	if err != nil {
		return Plan{}, err
	}
	p.Conversation = rcpt.Conversation
	p.Open = p.Conversation.Open(now)
	if p.Open {
		p.Message.Admitted = &domain.AdmittedConversation{ID: p.Conversation.ID, ExpiresAt: p.Conversation.ExpiresAt}
	}
	p.Message.ClientRef = req.ClientRef
	p.Message.ExpireAt = tenant.ExpireAt(now)
	p.Message.CallbackURL = callbackURL(tok, tenant)
	p.Contact = domain.Contact{
		Phone: req.Phone, FirstName: req.FirstName, LastName: req.LastName,
		Name:      domain.ContactName(req.ClientName, req.FirstName, req.LastName, ""),
		UpdatedAt: now,
	}
	p.KeepContact = !p.Contact.Learns(rcpt.Contact, rcpt.Known)
	return p, nil
}

// admitTemplate renders tpl for the stored contact; opting out stops
// marketing, never a receipt or a code.
func admitTemplate(tenant string, tpl domain.Template, contact domain.Contact, ch domain.Channel, req Request, now time.Time) (domain.Message, error) {
	rendered, err := domain.Render(tpl, req.Params)
	if err != nil {
		return domain.Message{}, err
	}
	if tpl.Marketing() {
		if err := domain.CheckMarketing(contact, tpl, cmp.Or(req.PhoneField, "phoneNumber")); err != nil {
			return domain.Message{}, err
		}
	}
	return domain.NewMessage(store.NewID(), tenant, ch.ID, req.Phone, tpl.ID, rendered, now), nil
}

func admitText(tenant string, contact domain.Contact, ch domain.Channel, req Request, now time.Time) (domain.Message, error) {
	if err := domain.CheckServiceWindow(contact, ch.ID, now); err != nil {
		return domain.Message{}, err
	}
	return domain.NewTextMessage(store.NewID(), tenant, ch.ID, req.Phone, req.Text, now), nil
}

// resolve finds the sending channel (field names the request's field in
// errors) and the tenant.
func (s *Service) resolve(ctx context.Context, tok domain.Token, ref, field string) (domain.Channel, domain.Tenant, error) {
	channels, err := s.cat.Channels(ctx, tok.Tenant)
	if err != nil {
		return domain.Channel{}, domain.Tenant{}, fmt.Errorf("channels of %s: %w", tok.Tenant, err)
	}
	ch, err := domain.PickChannel(channels, ref, tok.DefaultChannel)
	if domain.KindOf(err) == domain.KindInvalid && field != "" {
		err = domain.Errorf(domain.KindInvalid, "invalid fields: "+field+": this tenant has no number "+ref, field)
	}
	if err == nil {
		// A key limited to some numbers sends from no other, named or
		// defaulted to (docs/keys.md).
		err = tok.RequireChannel(ch.ID)
	}
	if err != nil {
		return domain.Channel{}, domain.Tenant{}, err
	}
	tenant, err := s.cat.Tenant(ctx, tok.Tenant)
	if err != nil {
		return domain.Channel{}, domain.Tenant{}, fmt.Errorf("tenant %s: %w", tok.Tenant, err)
	}
	return ch, tenant, nil
}

// template finds a template by id, else by Meta's name.
func (s *Service) template(ctx context.Context, tenant, id, name string) (domain.Template, error) {
	field, key, find := "templateId", id, s.cat.Template
	if key == "" && name != "" {
		field, key, find = "template_name", name, s.cat.TemplateByName
	}
	if key == "" {
		return domain.Template{}, domain.Errorf(domain.KindTemplate, "template without id or message", field)
	}
	tpl, err := find(ctx, tenant, key)
	if errors.Is(err, store.ErrNotFound) {
		return tpl, domain.Errorf(domain.KindTemplate, "template without id or message: no template "+key, field)
	}
	if err != nil {
		return tpl, fmt.Errorf("template %s/%s: %w", tenant, key, err)
	}
	return tpl, nil
}

// callbackURL is where a send's status callbacks go: the integration's
// URL, else the tenant's.
func callbackURL(tok domain.Token, t domain.Tenant) string {
	if tok.CallbackURL != "" {
		return tok.CallbackURL
	}
	return t.CallbackURL
}

// BulkRequest is what a bulk send's recipients share. Refusals name the
// fields "template", "channel" and "namespace", for each dialect to word
// with its own field names.
type BulkRequest struct {
	TemplateName string
	Namespace    string // emkt's; must match the template's when both are set
	Channel      string
}

// BulkPlan is an admitted bulk send: what every recipient is checked
// against and sent with. Each recipient's own checks (its number, its
// params, the conversation it would open) come later, one by one.
type BulkPlan struct {
	Channel     domain.Channel
	Tenant      domain.Tenant
	Template    domain.Template
	CountryCode string // prepended to national numbers
	CallbackURL string
}

// AdmitBulk runs the rules a bulk send's recipients share: the channel,
// the tenant, the template (by Meta's name), its namespace and approval.
// A refusal refuses the whole send before anything is written.
func (s *Service) AdmitBulk(ctx context.Context, tok domain.Token, req BulkRequest) (BulkPlan, error) {
	ch, tenant, err := s.resolve(ctx, tok, req.Channel, "")
	if domain.KindOf(err) == domain.KindInvalid {
		return BulkPlan{}, domain.Errorf(domain.KindInvalid, "no channel "+req.Channel+" for this tenant", "channel")
	}
	if err != nil {
		return BulkPlan{}, err
	}
	if strings.TrimSpace(req.TemplateName) == "" {
		return BulkPlan{}, domain.Errorf(domain.KindTemplate, "template name required", "template")
	}
	tpl, err := s.template(ctx, tok.Tenant, "", req.TemplateName)
	if domain.KindOf(err) == domain.KindTemplate {
		return BulkPlan{}, domain.Errorf(domain.KindTemplate, "no template named "+req.TemplateName, "template")
	}
	if err != nil {
		return BulkPlan{}, err
	}
	if req.Namespace != "" && tpl.Namespace != "" && req.Namespace != tpl.Namespace {
		return BulkPlan{}, domain.Errorf(domain.KindInvalid, "namespace "+req.Namespace+" is not the namespace of template "+tpl.Name, "namespace")
	}
	// Rendering without params fails on the template itself first (not
	// approved, no body); missing params are each recipient's concern.
	if _, err := domain.Render(tpl, nil); err != nil && domain.KindOf(err) != domain.KindParamsMissing {
		var de *domain.Error
		if errors.As(err, &de) {
			return BulkPlan{}, &domain.Error{Kind: de.Kind, Message: strings.Replace(de.Message, "template without id or message", "template "+tpl.Name+" has no body", 1), Fields: []string{"template"}}
		}
		return BulkPlan{}, err
	}
	p := BulkPlan{Channel: ch, Tenant: tenant, Template: tpl, CountryCode: ch.CountryCode, CallbackURL: callbackURL(tok, tenant)}
	if p.CountryCode == "" {
		p.CountryCode = tenant.CountryCode
	}
	return p, nil
}

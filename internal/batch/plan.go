package batch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// plan is what a batch's recipients are checked against, settled once
// before the first one is read.
type plan struct {
	spec        Spec
	channel     domain.Channel
	tpl         domain.Template
	countryCode string
	callbackURL string
	// keys are the params the template takes (domain.Template.Params),
	// for Spec.Positional.
	keys map[string]bool
	// named maps the positional keys "1", "2", … to a NAMED template's body
	// placeholders in order, for Spec.Positional.
	named map[string]string
}

// plan checks what the whole batch shares: a failure refuses the batch.
func (s *Service) plan(ctx context.Context, tok domain.Token, spec Spec) (*plan, error) {
	channels, err := s.cat.Channels(ctx, tok.Tenant)
	if err != nil {
		return nil, fmt.Errorf("channels of %s: %w", tok.Tenant, err)
	}
	ch, err := domain.PickChannel(channels, spec.Channel, tok.DefaultChannel)
	if domain.KindOf(err) == domain.KindInvalid {
		return nil, domain.Errorf(domain.KindInvalid, "no channel "+spec.Channel+" for this tenant", "channel")
	}
	if err != nil {
		return nil, err
	}
	tpl, err := s.template(ctx, tok.Tenant, spec)
	if err != nil {
		return nil, err
	}
	tenant, err := s.cat.Tenant(ctx, tok.Tenant)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", tok.Tenant, err)
	}
	if tenant.ConversationLimit > 0 {
		// Refuse only a batch that could not open a single conversation:
		// counting per recipient would cost a read each, and the count is
		// read, not reserved, as on the accept path.
		used, err := s.store.ConversationsOpened(ctx, tok.Tenant, domain.MonthKey(s.opt.Now()))
		if err != nil {
			return nil, fmt.Errorf("conversations of %s: %w", tok.Tenant, err)
		}
		if err := domain.CheckConversationLimit(false, tenant.ConversationLimit, used); err != nil {
			return nil, err
		}
	}
	p := &plan{spec: spec, channel: ch, tpl: tpl, countryCode: ch.CountryCode, callbackURL: tok.CallbackURL}
	if p.countryCode == "" {
		p.countryCode = tenant.CountryCode
	}
	if p.callbackURL == "" {
		p.callbackURL = tenant.CallbackURL
	}
	if spec.Positional {
		p.keys = map[string]bool{}
		for _, k := range tpl.Params() {
			p.keys[k] = true
		}
		if tpl.Named() {
			p.named = map[string]string{}
			for i, k := range domain.Placeholders(tpl.Body()) {
				p.named[strconv.Itoa(i+1)] = k
			}
		}
	}
	return p, nil
}

// template finds the batch's template by Meta's name and checks what
// does not depend on a recipient: approved, has a body, same namespace.
func (s *Service) template(ctx context.Context, tenant string, spec Spec) (domain.Template, error) {
	if strings.TrimSpace(spec.TemplateName) == "" {
		return domain.Template{}, domain.Errorf(domain.KindTemplate, "template name required", "template")
	}
	tpl, err := s.cat.TemplateByName(ctx, tenant, spec.TemplateName)
	if errors.Is(err, store.ErrNotFound) {
		return tpl, domain.Errorf(domain.KindTemplate, "no template named "+spec.TemplateName, "template")
	}
	if err != nil {
		return tpl, fmt.Errorf("template %s/%s: %w", tenant, spec.TemplateName, err)
	}
	if spec.Namespace != "" && tpl.Namespace != "" && spec.Namespace != tpl.Namespace {
		return tpl, domain.Errorf(domain.KindInvalid, "namespace "+spec.Namespace+" is not the namespace of template "+tpl.Name, "namespace")
	}
	// Rendering without params fails on the template itself first (not
	// approved, no body); missing params are each recipient's concern.
	if _, err := domain.Render(tpl, nil); err != nil && domain.KindOf(err) != domain.KindParamsMissing {
		var de *domain.Error
		if errors.As(err, &de) {
			return tpl, &domain.Error{Kind: de.Kind, Message: strings.Replace(de.Message, "template without id or message", "template "+tpl.Name+" has no body", 1), Fields: []string{"template"}}
		}
		return tpl, err
	}
	return tpl, nil
}

// check settles one recipient: stored for sending, or refused with a
// problem and kept only for reporting.
func (p *plan) check(r Recipient) store.BatchRecipient {
	out := store.BatchRecipient{Raw: r.Raw}
	switch {
	case r.Problem != "":
		out.Problem = r.Problem
		return out
	case recipientSize(r) > maxRecipientBytes:
		out.Problem = fmt.Sprintf("recipient too large: its number and parameters exceed %d KiB", maxRecipientBytes>>10)
		return out
	}
	phone := r.Phone
	if p.spec.National {
		ph, err := domain.ParseNational(r.Raw, p.countryCode)
		if err != nil {
			out.Problem = p.phoneProblem(r.Raw)
			return out
		}
		phone = ph
	}
	if phone == "" {
		out.Problem = "phone: required"
		return out
	}
	params := r.Params
	if p.spec.Positional {
		params = p.positional(params)
		if prob := p.count(params); prob != "" {
			out.Problem = prob
			return out
		}
	}
	if _, err := domain.Render(p.tpl, params); err != nil {
		out.Problem = err.Error()
		return out
	}
	out.Phone, out.Params = phone, params
	return out
}

func (p *plan) phoneProblem(raw string) string {
	if strings.TrimSpace(raw) == "" {
		return "phone: required"
	}
	return "phone: not a possible number, either as DDD + number (country code " + p.countryCode + " prepended) or with its country code"
}

// positional renames "1", "2", … to a NAMED template's placeholders.
func (p *plan) positional(params map[string]string) map[string]string {
	if p.named == nil {
		return params
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		if name, ok := p.named[k]; ok {
			k = name
		}
		out[k] = v
	}
	return out
}

// count refuses params that are not exactly the template's: Meta answers
// a wrong count with 132000, so it is refused before anything is sent.
func (p *plan) count(params map[string]string) string {
	ok := len(params) == len(p.keys)
	for k := range params {
		ok = ok && p.keys[k]
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("wrong parameter count: template %s takes %d, got %d", p.tpl.Name, len(p.keys), len(params))
}

// recipientSize approximates what a recipient costs in its chunk.
func recipientSize(r Recipient) int {
	n := len(r.Phone) + len(r.Raw) + len(r.Problem) + 16
	for k, v := range r.Params {
		n += len(k) + len(v) + 8
	}
	return n
}

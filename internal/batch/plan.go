package batch

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// plan is what a batch's recipients are checked against, settled once
// before the first one is read.
type plan struct {
	accept.BulkPlan
	spec Spec
	// keys are the params the template takes (domain.Template.Params),
	// for Spec.Positional.
	keys map[string]bool
	// named maps the positional keys "1", "2", … to a NAMED template's body
	// placeholders in order, for Spec.Positional.
	named map[string]string
}

// plan runs the admission the batch's recipients share: a refusal
// refuses the batch.
func (s *Service) plan(ctx context.Context, tok domain.Token, spec Spec) (*plan, error) {
	bp, err := s.admit.AdmitBulk(ctx, tok, accept.BulkRequest{TemplateName: spec.TemplateName, Namespace: spec.Namespace, Channel: spec.Channel})
	if err != nil {
		return nil, err
	}
	p := &plan{BulkPlan: bp, spec: spec}
	if spec.Positional {
		p.keys = map[string]bool{}
		for _, k := range bp.Template.Params() {
			p.keys[k] = true
		}
		if bp.Template.Named() {
			p.named = map[string]string{}
			for i, k := range domain.Placeholders(bp.Template.Body()) {
				p.named[strconv.Itoa(i+1)] = k
			}
		}
	}
	return p, nil
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
		ph, err := domain.ParseNational(r.Raw, p.CountryCode)
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
	if _, err := domain.Render(p.Template, params); err != nil {
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
	return "phone: not a possible number, either as DDD + number (country code " + p.CountryCode + " prepended) or with its country code"
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
	return fmt.Sprintf("wrong parameter count: template %s takes %d, got %d", p.Template.Name, len(p.keys), len(params))
}

// recipientSize approximates what a recipient costs in its chunk.
func recipientSize(r Recipient) int {
	n := len(r.Phone) + len(r.Raw) + len(r.Problem) + 16
	for k, v := range r.Params {
		n += len(k) + len(v) + 8
	}
	return n
}

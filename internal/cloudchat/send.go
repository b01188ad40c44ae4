package cloudchat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/request"
	"github.com/templategw/templategw/internal/store"
)

// maxTemplateName is Meta's limit on a template's name; a longer one names
// nothing, and is not worth a read.
const maxTemplateName = 512

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	account := chi.URLParam(r, "account_id")
	tok, err := s.authenticate(r, account)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, err := request.Body(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	req, err := parseSend(body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ch, err := s.inbox(ctx, tok, req.inbox)
	if err != nil {
		writeError(w, r, err)
		return
	}
	tpl, err := s.template(ctx, tok.Tenant, req.template)
	if err != nil {
		writeError(w, r, err)
		return
	}
	params, err := templateParams(tpl, req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var idem *accept.Idempotency
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if err := domain.CheckIdempotencyKey(key); err != nil {
			writeError(w, r, err)
			return
		}
		idem = &accept.Idempotency{Key: key, RequestHash: request.Hash(r, body)}
	}
	name := contactName(req.vars)
	v := view{account: account, inbox: req.inboxEcho, phone: req.phone, name: name, content: content(tpl, params), at: time.Now()}
	ans, err := s.sender.Send(ctx, tok, accept.Request{
		TemplateName: req.template, Phone: req.phone, PhoneField: "phone_number", ClientName: name, Params: params, Channel: ch.ID,
	}, idem, v.render)
	if err != nil {
		writeError(w, r, translate(err, req.template))
		return
	}
	writeBody(w, ans.Code, ans.Body)
}

// authenticate checks api_access_token and that its tenant is the path's
// account: a CloudChat account is a templategw tenant.
func (s *Server) authenticate(r *http.Request, account string) (domain.Token, error) {
	token := r.Header.Get("api_access_token")
	if token == "" {
		// Rack reads api-access-token as the same header, and proxies
		// such as nginx drop names with underscores by default.
		token = r.Header.Get("Api-Access-Token")
	}
	tok, err := s.cat.Authenticate(r.Context(), token)
	if err != nil {
		return domain.Token{}, err
	}
	if tok.Tenant != account {
		logging.FromContext(r.Context()).Warn("access token used for another account", "tenant", tok.Tenant, "account", account)
		return domain.Token{}, domain.Errorf(domain.KindUnauthorized, "Invalid Access Token")
	}
	// The dialect's one route sends: a key without the scope is refused
	// before the body is read.
	return tok, tok.Require(domain.ScopeSend)
}

// inbox resolves inbox_id to one of the tenant's channels by id, display
// number or sender code. An inbox the account does not have is 404, as
// Chatwoot answers a record it cannot find.
func (s *Server) inbox(ctx context.Context, tok domain.Token, ref string) (domain.Channel, error) {
	channels, err := s.cat.Channels(ctx, tok.Tenant)
	if err != nil {
		return domain.Channel{}, fmt.Errorf("channels of %s: %w", tok.Tenant, err)
	}
	ch, err := domain.PickChannel(channels, ref, "")
	if err == nil {
		return ch, nil
	}
	switch domain.KindOf(err) {
	case domain.KindInvalid:
		return domain.Channel{}, domain.Errorf(domain.KindNotFound, "inbox_id: no inbox "+quote(ref)+" in this account", keyInbox)
	case domain.KindChannelNotConnected:
		return domain.Channel{}, domain.Errorf(domain.KindChannelNotConnected, "inbox_id: inbox "+quote(ref)+" is not connected", keyInbox)
	}
	return domain.Channel{}, err
}

// template reads the template the send names; the answer shows its body.
func (s *Server) template(ctx context.Context, tenant, name string) (domain.Template, error) {
	unknown := domain.Errorf(domain.KindTemplate, "template_name: no template "+quote(name)+" in this account", keyTemplate)
	if len(name) > maxTemplateName {
		return domain.Template{}, unknown
	}
	tpl, err := s.cat.TemplateByName(ctx, tenant, name)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Template{}, unknown
	}
	if err != nil {
		return domain.Template{}, fmt.Errorf("template named %s of %s: %w", quote(name), tenant, err)
	}
	return tpl, nil
}

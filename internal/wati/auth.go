package wati

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/request"
)

// authenticate returns what the request's token grants. Wati's dashboard
// shows the token with its "Bearer " prefix and clients send it with or
// without one, so both are taken. The token's tenant must be the path's:
// another tenant's token is refused exactly like a wrong one, so a caller
// learns nothing of which tenants exist. A key without the route's scope
// is refused next, before anything else is read.
func (s *Server) authenticate(r *http.Request, scope domain.Scope) (domain.Token, error) {
	token := request.Bearer(r)
	if token == "" {
		token = strings.TrimSpace(r.Header.Get("Authorization"))
	}
	tok, err := s.cat.Authenticate(r.Context(), token)
	if err != nil {
		return domain.Token{}, err
	}
	if path := chi.URLParam(r, "tenantId"); tok.Tenant != path {
		logging.FromContext(r.Context()).Warn("wati: a tenant's token used on another tenant's path", "tenant", tok.Tenant, "pathTenant", path)
		return domain.Token{}, domain.Errorf(domain.KindUnauthorized, "incorrect token")
	}
	return tok, tok.Require(scope)
}

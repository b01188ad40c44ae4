package atom

import (
	"net/http"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/request"
)

// templateScopes may read templates: a key that sends needs a template's
// params to send it, and one that reads messages needs the template a
// message names; neither learns more than the catalog (docs/keys.md).
var templateScopes = []domain.Scope{domain.ScopeSend, domain.ScopeReadMessages}

// authenticate returns what the request's bearer token grants, refusing
// a key that holds none of scopes before anything else is read.
func (s *Server) authenticate(r *http.Request, scopes ...domain.Scope) (domain.Token, error) {
	tok, err := s.cat.Authenticate(r.Context(), request.Bearer(r))
	if err != nil {
		return tok, err
	}
	return tok, tok.Require(scopes...)
}

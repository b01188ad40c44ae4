package console

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// signInView is the sign-in page.
type signInView struct {
	page
	Problem string
}

// signInPage shows the sign-in form, with a fresh nonce cookie its CSRF
// token is bound to: a form posted from another site has neither.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, err := c.session(r); err == nil {
		redirect(w, "./", http.StatusSeeOther)
		return
	}
	c.renderSignIn(w, r, http.StatusOK, "")
}

func (c *Console) renderSignIn(w http.ResponseWriter, r *http.Request, code int, problem string) {
	nonce := randomValue()
	setCookie(w, r, signInCookie, nonce, int(signInLifetime.Seconds()))
	v := signInView{page: c.page(r, "Sign in", ""), Problem: problem}
	v.CSRF = c.keys.sign("signin", nonce)
	c.render(w, r, code, "signin", v)
}

// signInLifetime is how long a sign-in form stays good.
const signInLifetime = time.Hour

// signIn checks the form's CSRF token and the integration token, opens a
// session and sets its cookie. The token is read from the body only, and
// never written anywhere: the session stores its hash.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	nonce, err := r.Cookie(signInCookie)
	if err != nil || !c.keys.verify(r.PostFormValue("csrf"), "signin", nonce.Value) {
		c.renderSignIn(w, r, http.StatusForbidden, "This sign-in form has expired. Try again.")
		return
	}
	ctx := r.Context()
	tok, err := c.deps.Auth.Authenticate(ctx, strings.TrimSpace(r.PostFormValue("token")))
	switch {
	case domain.KindOf(err) == domain.KindUnauthorized || err == nil && (tok.Revoked || tok.Expired(c.cfg.Now())):
		c.renderSignIn(w, r, http.StatusUnauthorized, "That token is not valid.")
		return
	case domain.KindOf(err) == domain.KindForbidden:
		c.renderSignIn(w, r, http.StatusForbidden, "That token may not sign in to the console.")
		return
	case err != nil:
		c.internal(w, r, err)
		return
	case !mayUseConsole(tok):
		c.renderSignIn(w, r, http.StatusForbidden, "That token may not sign in to the console: it needs the console scope.")
		return
	}
	now := c.cfg.Now()
	sess := store.Session{
		ID: store.NewID(), TokenHash: store.HashToken(strings.TrimSpace(r.PostFormValue("token"))), Integration: tok.Integration,
		CSRF: randomValue(), CreatedAt: now, SeenAt: now, ExpireAt: now.Add(c.cfg.SessionIdle),
	}
	if err := c.deps.Store.CreateSession(ctx, tok.Tenant, sess); err != nil {
		c.internal(w, r, err)
		return
	}
	logging.FromContext(ctx).Info("console: signed in", "tenant", tok.Tenant, "integration", tok.Integration)
	setCookie(w, r, signInCookie, "", -1)
	setCookie(w, r, sessionCookie, c.keys.cookieValue(tok.Tenant, sess.ID), 0)
	redirect(w, "./", http.StatusSeeOther)
}

// signOut deletes the session, so its cookie is refused from now on,
// wherever a copy of it is.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r.Context())
	if err := c.deps.Store.DeleteSession(r.Context(), s.Tenant, s.Session.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.internal(w, r, err)
		return
	}
	setCookie(w, r, sessionCookie, "", -1)
	redirect(w, "signin", http.StatusSeeOther)
}

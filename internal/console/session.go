package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// Cookie names. The session cookie holds a signed session id, never the
// token; the sign-in cookie holds the nonce the sign-in form's CSRF token
// is derived from.
const (
	sessionCookie = "templategw_console"
	signInCookie  = "templategw_console_signin"
)

// signer makes and checks HMAC-SHA256 signatures under the session key.
// Each use names its purpose, so a value signed for one can never pass
// as another.
type signer struct{ key []byte }

func (s signer) sign(purpose string, parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s signer) verify(sig, purpose string, parts ...string) bool {
	return hmac.Equal([]byte(sig), []byte(s.sign(purpose, parts...)))
}

// randomValue is 32 bytes from the system's CSPRNG, URL-safe.
func randomValue() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// cookieValue is tenant.id.signature, the tenant base64url-encoded so
// the dots stay separators whatever the tenant's id holds.
func (s signer) cookieValue(tenant, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tenant)) + "." + id + "." + s.sign("session", tenant, id)
}

// parseCookie returns the tenant and session id of a cookie this key
// signed; ok is false for anything else, before any database read.
func (s signer) parseCookie(v string) (tenant, id string, ok bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || !s.verify(parts[2], "session", string(raw), parts[1]) {
		return "", "", false
	}
	return string(raw), parts[1], true
}

// secure reports whether the request reached the function over HTTPS: in
// the cloud Google's front end ends TLS and says so in X-Forwarded-Proto.
// Trusting the header can only add the Secure flag.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// setCookie sets an HttpOnly, SameSite=Strict cookie at the origin's root:
// the console does not know the path it is mounted at. maxAge 0 makes a
// session cookie; negative deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	})
}

// signedIn is the session a request carries, once checked.
type signedIn struct {
	Tenant  string
	Session store.Session
	Token   domain.Token
}

type sessionKey struct{}

func sessionOf(ctx context.Context) signedIn {
	s, _ := ctx.Value(sessionKey{}).(signedIn)
	return s
}

// mayUseConsole is the one place that decides whether a token may sign in
// to the console: a token holds the console scope, and tokens issued
// before scopes existed hold every scope.
func mayUseConsole(t domain.Token) bool { return t.Has(domain.ScopeConsole) }

// errNoSession is any reason a request's session is not valid; the reason
// itself is logged, not shown.
var errNoSession = errors.New("no valid session")

// session checks the request's session cookie against its stored
// session, the token that opened it and both expiries, and moves the idle
// expiry along (a write at most every minute or so).
func (c *Console) session(r *http.Request) (signedIn, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return signedIn{}, errNoSession
	}
	tenant, id, ok := c.keys.parseCookie(ck.Value)
	if !ok {
		return signedIn{}, errNoSession
	}
	ctx := r.Context()
	sess, tok, err := c.deps.Store.SessionAndToken(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return signedIn{}, errNoSession
	}
	if err != nil {
		return signedIn{}, err
	}
	now := c.cfg.Now()
	switch {
	case tok.Tenant != tenant, tok.Revoked, tok.Expired(now), !mayUseConsole(tok),
		!now.Before(sess.ExpireAt), !now.Before(sess.CreatedAt.Add(c.cfg.SessionMax)):
		if err := c.deps.Store.DeleteSession(ctx, tenant, id); err != nil {
			logging.FromContext(ctx).Warn("console: end a lapsed session", "error", err.Error())
		}
		return signedIn{}, errNoSession
	}
	if now.Sub(sess.SeenAt) > touchEvery(c.cfg.SessionIdle) {
		exp := now.Add(c.cfg.SessionIdle)
		if err := c.deps.Store.TouchSession(ctx, tenant, id, now, exp); err != nil {
			// The session stays valid until its older expiry: worth a
			// line in the log, not a failed page.
			logging.FromContext(ctx).Warn("console: move a session's idle expiry", "error", err.Error())
		} else {
			sess.SeenAt, sess.ExpireAt = now, exp
		}
	}
	return signedIn{Tenant: tenant, Session: sess, Token: tok}, nil
}

// maxForm bounds a form's body: the console's forms hold a few short
// fields.
const maxForm = 64 << 10

// touchEvery is how stale a session's idle expiry may get before a
// request moves it: a tenth of the idle time, at most a minute, so a busy
// page costs no write per request and a session never lapses early by
// more than that.
func touchEvery(idle time.Duration) time.Duration { return min(idle/10, time.Minute) }

// requireSession lets through requests with a valid session. Without one,
// a page request is sent to the sign-in page and anything else (a form, a
// script's fetch, a CSV) is refused with 401; a POST without the
// session's CSRF token is refused with 403.
func (c *Console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			if !errors.Is(err, errNoSession) {
				c.internal(w, r, err)
				return
			}
			if _, err := r.Cookie(sessionCookie); err == nil {
				setCookie(w, r, sessionCookie, "", -1)
			}
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, ".json") && !strings.HasSuffix(r.URL.Path, ".csv") {
				redirect(w, rootOf(r.URL.Path)+"signin", http.StatusSeeOther)
				return
			}
			c.fail(w, r, http.StatusUnauthorized, "Sign in first.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if r.Method == http.MethodPost && !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.Session.CSRF)) {
			c.fail(w, r, http.StatusForbidden, "This form has expired: go back, reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}

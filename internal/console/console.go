// Package console is the web console (DESIGN §9): server-rendered pages
// where a business signs in with one of its integration tokens and sees
// and steers its messages. Pages are html/template with their CSS and one
// small script embedded, every asset served by the function itself, and
// every page reads without JavaScript; the script only refreshes live
// figures. Every page reads a bounded amount: paged queries, count
// aggregations and documents by id, never a whole collection.
//
// The function serves at the root of its own URL and links relatively, so
// it works wherever it is mounted (/console/ behind the dev stack's front
// door, https://REGION-PROJECT.cloudfunctions.net/console/ in the cloud).
package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// Config is the console's own configuration.
type Config struct {
	// SessionKey signs session cookies and sign-in forms.
	SessionKey []byte
	// SessionIdle ends a session nobody used for that long; SessionMax
	// ends it that long after sign-in.
	SessionIdle, SessionMax time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Auth checks the integration token a person signs in with.
type Auth interface {
	Authenticate(ctx context.Context, token string) (domain.Token, error)
}

// Store is what the pages read, and where sessions live.
type Store interface {
	CreateSession(ctx context.Context, tenant string, s store.Session) error
	SessionAndToken(ctx context.Context, tenant, id string) (store.Session, domain.Token, error)
	TouchSession(ctx context.Context, tenant, id string, seen, expireAt time.Time) error
	DeleteSession(ctx context.Context, tenant, id string) error

	Message(ctx context.Context, tenant, id string) (domain.Message, error)
	Messages(ctx context.Context, tenant string, f store.MessageFilter, limit int, pageToken string) ([]domain.Message, string, error)
	CountMessages(ctx context.Context, tenant string, f store.MessageFilter) (int, error)
	Contact(ctx context.Context, tenant, phone string) (domain.Contact, error)
	ContactsAfter(ctx context.Context, tenant, after string, limit int) ([]domain.Contact, string, error)
	Conversation(ctx context.Context, tenant, channel, phone string) (domain.Conversation, error)
	Templates(ctx context.Context, tenant string, limit int, after string) ([]domain.Template, string, error)
	Channels(ctx context.Context, tenant string) ([]domain.Channel, error)
	Usage(ctx context.Context, tenant, month string) ([]domain.UsageCount, error)

	SetMarketingOptOut(ctx context.Context, tenant, phone string, out bool, at time.Time, source string) (domain.Contact, bool, error)
	SettleUnknown(ctx context.Context, tenant, id string, as domain.Settlement, now time.Time) (domain.Message, error)

	DeadLetters(ctx context.Context, tenant string, limit int, pageToken string) ([]store.DeadLetter, string, error)
	DeadLetter(ctx context.Context, tenant, id string) (store.DeadLetter, error)
	DeleteDeadLetter(ctx context.Context, tenant, id string) error
}

// Dispatch hands a message to dispatch, as the accept path publishes it.
type Dispatch interface {
	Publish(ctx context.Context, j queue.Job) error
}

// Callbacks publishes to the callbacks topic, where a replayed dead
// letter's job goes back as the notifier first published it;
// *queue.Publisher is one.
type Callbacks interface {
	PublishJSON(ctx context.Context, v any, attrs map[string]string) error
}

// TemplateSync pulls a tenant's templates from Meta into its catalog.
type TemplateSync interface {
	SyncTemplates(ctx context.Context, tenant string) (SyncResult, error)
}

// SyncResult is what a template sync changed.
type SyncResult struct {
	Added, Updated, Unchanged int
	// NotApproved are the ids of templates Meta has not approved, which
	// sends refuse.
	NotApproved []string
}

// Deps are the console's connections; Sync may be nil, and then the
// templates page has no sync button. Dispatch may be nil too: a message
// resolved as resend is then accepted again and left for sweep, which
// republishes accepted messages within SWEEP_ACCEPTED_AFTER. Without
// Callbacks the problems page lists dead letters but offers no replay.
type Deps struct {
	Auth       Auth
	Store      Store
	Broadcasts Broadcasts
	Sync       TemplateSync
	Dispatch   Dispatch
	Callbacks  Callbacks
}

// Console serves the console function.
type Console struct {
	cfg  Config
	deps Deps
	keys signer
	view *views
}

// New returns the console. The session key must have been checked by the
// caller's configuration (config.MinSessionKey).
func New(cfg Config, deps Deps) (*Console, error) {
	if len(cfg.SessionKey) == 0 {
		return nil, errors.New("console: no session key: set CONSOLE_SESSION_KEY")
	}
	if cfg.SessionIdle <= 0 || cfg.SessionMax < cfg.SessionIdle {
		return nil, errors.New("console: the idle expiry must be positive and the longest session at least as long")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v, err := parseViews()
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, deps: deps, keys: signer{key: cfg.SessionKey}, view: v}, nil
}

// Handler is the console function's HTTP handler, served at "/".
func (c *Console) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	r.Get("/static/{file}", serveStatic)
	r.Get("/signin", c.signInPage)
	r.Post("/signin", c.signIn)
	r.Group(func(r chi.Router) {
		r.Use(c.requireSession)
		r.Post("/signout", c.signOut)
		r.Get("/", c.overview)
		r.Get("/overview.json", c.overviewFigures)
		r.Get("/messages", c.messages)
		r.Get("/messages/{id}", c.message)
		r.Post("/messages/{id}/resolve", c.resolveMessage)
		r.Get("/broadcasts", c.broadcasts)
		r.Get("/broadcasts/{id}", c.broadcast)
		r.Get("/broadcasts/{id}/progress.json", c.broadcastFigures)
		r.Get("/broadcasts/{id}/recipients.csv", c.broadcastCSV)
		r.Post("/broadcasts/{id}/{action}", c.steerBroadcast)
		r.Get("/templates", c.templates)
		r.Post("/templates/sync", c.syncTemplates)
		r.Get("/contacts", c.contacts)
		r.Get("/contacts/{phone}", c.contact)
		r.Post("/contacts/{phone}/{action}", c.setMarketing)
		r.Get("/channels", c.channels)
		r.Post("/deadletters/{id}/replay", c.replayDeadLetter)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "There is no such page.")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusMethodNotAllowed, "This page does not take that request.")
	})
	return r
}

// securityHeaders keep the pages to their own assets, out of frames and
// out of caches: they show a tenant's data.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

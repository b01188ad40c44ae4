// Package webhook is the whatsapp function: Meta's verification handshake
// and its signed webhooks. Status updates move messages forward (never
// back), record Meta's pricing and open or extend conversations; inbound
// messages open the contact's customer-service window, are stored for the
// dialects that list them and reach the tenant as message.received
// callbacks. Anything Meta sends that the gateway does not know, or cannot
// read, is logged and acknowledged, because Meta retries every non-200
// for days; every time Meta reports is bounded by the time the webhook
// arrived (domain.EventTime).
package webhook

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// MaxBody bounds a webhook body: Meta's are at most 3 MB.
const MaxBody = 4 << 20

// Lines finds the tenant and channel of a Meta phone-number id, and the
// tenant's settings (its callback URL); the catalog caches both.
type Lines interface {
	Line(ctx context.Context, phoneNumberID string) (store.Line, error)
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
}

// Store applies what a webhook reports.
type Store interface {
	MessageOfWAMID(ctx context.Context, tenant, wamid string) (string, error)
	ApplyUpdate(ctx context.Context, tenant, id string, u domain.Update) (domain.Message, bool, error)
	RecordInbound(ctx context.Context, tenant string, in store.Inbound) (store.Inbound, bool, error)
}

// Notifier tells a tenant about a status change and about a message one of
// its contacts sent; *callback.Notifier is one.
type Notifier interface {
	Notify(ctx context.Context, m domain.Message)
	NotifyReceived(ctx context.Context, tenant, url string, in domain.InboundMessage)
}

// Config holds Meta's two shared secrets for this app.
type Config struct {
	VerifyToken string // echoed back in the subscription handshake
	AppSecret   string // signs every POST (X-Hub-Signature-256)
	Now         func() time.Time
}

// Server serves the whatsapp function.
type Server struct {
	cfg    Config
	lines  Lines
	store  Store
	notify Notifier

	account       AccountStore
	accountNotify AccountNotifier
}

// New returns the webhook server.
func New(cfg Config, lines Lines, st Store, n Notifier) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Server{cfg: cfg, lines: lines, store: st, notify: n}
}

// Handler serves GET / (verification) and POST / (events).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleVerify)
	mux.HandleFunc("POST /{$}", s.handleEvent)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found: Meta's webhook is GET / and POST /", http.StatusNotFound)
	})
	return mux
}

// handleVerify answers Meta's subscription handshake.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token := q.Get("hub.verify_token")
	if q.Get("hub.mode") != "subscribe" || s.cfg.VerifyToken == "" ||
		subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.VerifyToken)) != 1 {
		http.Error(w, "verification failed", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

func (s *Server) handleEvent(w http.ResponseWriter, r *http.Request) {
	received := s.cfg.Now().UTC()
	log := logging.FromContext(r.Context())
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		http.Error(w, "webhook body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, "the body could not be read", http.StatusBadRequest)
		return
	}
	// Nothing is parsed, read or written before the signature holds.
	if !validSignature(s.cfg.AppSecret, r.Header.Get(SignatureHeader), body) {
		log.Warn("webhook refused: missing or wrong " + SignatureHeader)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	env, err := parse(body)
	if err != nil {
		log.Warn("webhook refused", "error", err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.process(r.Context(), log, env, received); err != nil {
		// A store failure: Meta retries, and every step is idempotent.
		log.Error("webhook not processed; Meta will retry", "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) process(ctx context.Context, log *slog.Logger, env envelope, received time.Time) error {
	if env.Object != "whatsapp_business_account" {
		log.Info("webhook for an unsupported object ignored", "object", domain.Clip(env.Object, 64))
		return nil
	}
	for _, e := range env.Entry {
		for _, c := range e.Changes {
			if c.Field != "messages" {
				handled, err := s.accountChange(ctx, log, e.ID, c.Field, c.Value, received)
				if err != nil {
					return err
				}
				if !handled {
					log.Info("webhook field not handled", "field", domain.Clip(c.Field, 64), "waba", domain.Clip(e.ID, 64))
				}
				continue
			}
			if err := s.change(ctx, log, c.Value, received); err != nil {
				return err
			}
		}
	}
	return nil
}

// change applies one change of the messages field: its statuses, then its
// inbound messages, then Meta's out-of-band errors.
func (s *Server) change(ctx context.Context, log *slog.Logger, raw json.RawMessage, received time.Time) error {
	var v value
	if err := json.Unmarshal(raw, &v); err != nil {
		log.Warn("webhook change with an unreadable value ignored", "error", err.Error())
		return nil
	}
	pnid := v.Metadata.PhoneNumberID
	if pnid == "" {
		log.Warn("webhook without a phone number id ignored")
		return nil
	}
	line, err := s.lines.Line(ctx, pnid)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("webhook for an unknown phone number id ignored", "phoneNumberId", domain.Clip(pnid, 64))
		return nil
	}
	if err != nil {
		return fmt.Errorf("phone number id %s: %w", pnid, err)
	}
	log = log.With("tenant", line.Tenant, "channel", line.Channel)
	for i, raw := range v.Statuses {
		var st status
		if err := json.Unmarshal(raw, &st); err != nil {
			log.Warn("unreadable status ignored", "index", i, "error", err.Error())
			continue
		}
		if err := s.status(ctx, log, line, st, received); err != nil {
			return err
		}
	}
	people := readContacts(log, v.Contacts)
	for i, raw := range v.Messages {
		m, ok := readInbound(log, raw)
		if !ok {
			log.Warn("unreadable inbound message ignored", "index", i)
			continue
		}
		if err := s.inbound(ctx, log, line, m, people, received); err != nil {
			return err
		}
	}
	for _, raw := range v.Errors {
		var e metaError
		if err := json.Unmarshal(raw, &e); err != nil {
			log.Error("Meta reported an unreadable error for this number", "error", err.Error())
			continue
		}
		log.Error("Meta reported an error for this number", "metaCode", e.Code, "title", domain.Clip(e.Title, maxTitle),
			"details", domain.Clip(e.ErrorData.Details, maxTitle))
	}
	return nil
}

// eventTime is the time to record for a timestamp Meta reported, logging
// a value that had to be replaced by the receive time.
func eventTime(log *slog.Logger, ts unixTime, received time.Time) time.Time {
	at, problem := ts.at(received)
	if problem != "" {
		log.Warn("timestamp replaced by the time the webhook arrived", "problem", problem, "timestamp", ts.raw(),
			"received", received.Format(time.RFC3339))
	}
	return at
}

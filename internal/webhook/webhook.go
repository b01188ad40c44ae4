// Package webhook is the whatsapp function: Meta's verification handshake
// and its signed webhooks. Status updates move messages forward (never
// back) and open or extend conversations; inbound messages open the
// contact's customer-service window and are stored for the dialects that
// list them. Anything Meta sends that the gateway does not know is logged
// and acknowledged, because Meta retries every non-200 for days.
package webhook

import (
	"context"
	"crypto/subtle"
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

// Lines finds the tenant and channel of a Meta phone-number id.
type Lines interface {
	Line(ctx context.Context, phoneNumberID string) (store.Line, error)
}

// Store applies what a webhook reports.
type Store interface {
	WAMIDOf(ctx context.Context, wamid string) (store.WAMID, error)
	ApplyUpdate(ctx context.Context, tenant, id string, u domain.Update) (domain.Message, bool, error)
	PutInbound(ctx context.Context, tenant string, in store.Inbound) error
}

// Notifier tells a tenant about a status change.
type Notifier interface {
	Notify(ctx context.Context, m domain.Message)
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
	if err := s.process(r.Context(), log, env); err != nil {
		// A store failure: Meta retries, and every step is idempotent.
		log.Error("webhook not processed; Meta will retry", "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) process(ctx context.Context, log *slog.Logger, env envelope) error {
	if env.Object != "whatsapp_business_account" {
		log.Info("webhook for an unsupported object ignored", "object", env.Object)
		return nil
	}
	for _, e := range env.Entry {
		for _, c := range e.Changes {
			if c.Field != "messages" {
				log.Info("webhook field not handled", "field", c.Field, "waba", e.ID)
				continue
			}
			if err := s.change(ctx, log, c.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) change(ctx context.Context, log *slog.Logger, v value) error {
	pnid := v.Metadata.PhoneNumberID
	line, err := s.lines.Line(ctx, pnid)
	if errors.Is(err, store.ErrNotFound) || pnid == "" {
		log.Warn("webhook for an unknown phone number id ignored", "phoneNumberId", pnid)
		return nil
	}
	if err != nil {
		return fmt.Errorf("phone number id %s: %w", pnid, err)
	}
	log = log.With("tenant", line.Tenant, "channel", line.Channel)
	for _, st := range v.Statuses {
		if err := s.status(ctx, log, line, st); err != nil {
			return err
		}
	}
	names := map[string]string{}
	for _, c := range v.Contacts {
		names[c.WAID] = c.Profile.Name
	}
	for _, m := range v.Messages {
		if err := s.inbound(ctx, log, line, m, names[m.From]); err != nil {
			return err
		}
	}
	for _, e := range v.Errors {
		log.Error("Meta reported an error for this number", "metaCode", e.Code, "title", e.Title, "details", e.ErrorData.Details)
	}
	return nil
}

// status applies one status. The message is found by its provider id
// (wamids/, one read) or, when dispatch never learnt that id (a timeout
// after the request left), by the gateway id Meta echoes back.
func (s *Server) status(ctx context.Context, log *slog.Logger, line store.Line, st status) error {
	// Meta's wamid embeds the recipient's number (base64): the lines carry
	// its fingerprint, which dispatch's lines share.
	log = log.With("wamidHash", logging.Fingerprint(st.ID), "status", st.Status)
	to, ok := domain.ParseUpdateStatus(st.Status)
	if !ok {
		log.Info("status not tracked, ignored")
		return nil
	}
	id := st.CallbackData
	w, err := s.store.WAMIDOf(ctx, st.ID)
	switch {
	case err == nil && w.Tenant == line.Tenant:
		id = w.Message
	case err == nil:
		log.Warn("status for another tenant's message ignored")
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("find message of wamid %s: %w", logging.Fingerprint(st.ID), err)
	}
	if id == "" {
		log.Warn("status for an unknown message ignored")
		return nil
	}
	u := domain.Update{ProviderMessageID: st.ID, Status: to, At: st.Timestamp.time()}
	if u.At.IsZero() {
		u.At = s.cfg.Now().UTC()
	}
	if len(st.Errors) > 0 {
		u.Error = &domain.MessageError{Code: st.Errors[0].Code, Title: st.Errors[0].Title}
	}
	m, changed, err := s.store.ApplyUpdate(ctx, line.Tenant, id, u)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("status for an unknown message ignored", "messageId", id)
		return nil
	}
	if err != nil {
		return err
	}
	if !changed {
		log.Debug("duplicate or late status ignored", "messageId", id, "current", string(m.Status))
		return nil
	}
	logging.Transition(ctx, logging.Moved(logging.SourceWebhook, m, logging.PreviousStatus(m)))
	if s.notify != nil {
		s.notify.Notify(ctx, m)
	}
	return nil
}

func (s *Server) inbound(ctx context.Context, log *slog.Logger, line store.Line, m inbound, name string) error {
	if _, err := domain.ParsePhone(m.From); err != nil || m.ID == "" || !store.ValidID(m.ID) {
		log.Warn("inbound message without a usable sender or id ignored", "phone", domain.MaskPhone(m.From))
		return nil
	}
	in := store.Inbound{ID: m.ID, Channel: line.Channel, Phone: m.From, ProfileName: name, Type: m.Type, At: m.Timestamp.time()}
	if in.At.IsZero() {
		in.At = s.cfg.Now().UTC()
	}
	if m.Text != nil {
		in.Text = m.Text.Body
	}
	if err := s.store.PutInbound(ctx, line.Tenant, in); err != nil {
		return err
	}
	log.Info("inbound message stored", "phone", domain.MaskPhone(m.From), "type", m.Type)
	return nil
}

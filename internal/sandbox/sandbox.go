// Package sandbox simulates the public side of Meta's WhatsApp Cloud API:
// template sends and the template list, with Meta's error shapes, rate
// limits and failures injected by recipient, and the signed webhooks that
// report a send's statuses and a contact's replies. It lets development, tests and
// benchmarks exercise the real provider client over real HTTP without Meta.
// It simulates Meta only; it never stands in for the gateway's own parts.
package sandbox

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

// Number is one WhatsApp business phone number the sandbox serves.
type Number struct {
	PhoneNumberID string
	WABAID        string
	AccessToken   string
	// DisplayPhoneNumber is the number as people dial it, digits only;
	// webhooks carry it in metadata.display_phone_number.
	DisplayPhoneNumber string
	// MessagesPerSecond is the number's throughput limit; 0 means Meta's
	// default of 80.
	MessagesPerSecond int
}

// Config describes what the sandbox knows: its numbers, their templates and
// the limits it enforces. Zero values take Meta's defaults.
type Config struct {
	Numbers []Number
	// Templates are the message templates of each WhatsApp Business
	// Account, keyed by WABA id.
	Templates map[string][]domain.Template
	// PairBurst and PairInterval shape the per (phone number, recipient)
	// token bucket behind 131056: PairBurst sends at once, then one more per
	// PairInterval. Defaults: 45 and 6s.
	PairBurst    int
	PairInterval time.Duration
	// TimeoutDelay is how long a send to a "timeout after accepting"
	// recipient (…0003) is held before it is answered; the request's
	// context ending also ends it. Default 30s.
	TimeoutDelay time.Duration

	// WebhookURL is where status and inbound-message webhooks are posted,
	// as Meta posts them to an app's callback URL; empty sends none.
	// SetWebhook changes it at run time.
	WebhookURL string
	// AppSecret keys the X-Hub-Signature-256 of every webhook. Default
	// DefaultAppSecret.
	AppSecret string
	// WebhookDelay is the gap before a send's first status and between its
	// successive statuses. Default 150ms.
	WebhookDelay time.Duration
	// WebhookAttempts is how many times one webhook is posted before the
	// sandbox gives up on it; WebhookRetryDelay is the wait before the
	// first retry, doubling after each. Defaults: 5 and 100ms.
	WebhookAttempts   int
	WebhookRetryDelay time.Duration
}

// Defaults applied by New for zero Config fields.
const (
	DefaultMessagesPerSecond = 80
	DefaultPairBurst         = 45
	DefaultPairInterval      = 6 * time.Second
	DefaultTimeoutDelay      = 30 * time.Second
	DefaultAppSecret         = "sandbox-app-secret"
	DefaultWebhookDelay      = 150 * time.Millisecond
	DefaultWebhookAttempts   = 5
	DefaultWebhookRetryDelay = 100 * time.Millisecond
)

// Request is one send call the sandbox received, whatever its outcome.
type Request struct {
	At time.Time `json:"at"`
	// Version is the Graph API version the call's path named, e.g. v24.0.
	Version       string                 `json:"version"`
	PhoneNumberID string                 `json:"phone_number_id"`
	To            string                 `json:"to"`
	CallbackData  string                 `json:"callback_data,omitempty"`
	WAMID         string                 `json:"wamid,omitempty"`
	Type          string                 `json:"type,omitempty"` // template or text, when the body said
	Template      domain.TemplateMessage `json:"template"`
	Text          string                 `json:"text,omitempty"` // a text send's body`
	Status        int                    `json:"status"`
	ErrorCode     int                    `json:"error_code,omitempty"`
	// Body is the call's body exactly as received (what could be read of
	// it, at most 1 MiB).
	Body string `json:"body"`
}

// Sandbox is a running simulation. It is safe for concurrent use.
type Sandbox struct {
	cfg     Config
	numbers map[string]*number // by phone number id; the map is read-only after New
	wabas   map[string]*waba   // by WABA id; read-only after New
	pairs   *pairLimiter
	windows *windows
	bg      *background
	client  *http.Client // posts webhooks

	mu         sync.Mutex
	requests   []Request
	byCallback map[string]int
	failedOnce map[string]bool // recipients (…0008) that already got their one 503
	hook       webhookTarget
	webhooks   []Webhook
}

type number struct {
	Number
	// limiter is swapped whole by Reset, so it sits behind an atomic
	// pointer rather than the sandbox mutex the hot path would contend on.
	limiter atomic.Pointer[rate.Limiter]
	// revoked makes Meta refuse the number's access token (190) on every
	// call, until it is restored (token.go).
	revoked atomic.Bool
}

func (n *number) resetLimiter() {
	n.limiter.Store(rate.NewLimiter(rate.Limit(n.MessagesPerSecond), n.MessagesPerSecond))
}

// New builds a sandbox from cfg, applying defaults for zero fields.
func New(cfg Config) *Sandbox {
	if cfg.PairBurst <= 0 {
		cfg.PairBurst = DefaultPairBurst
	}
	if cfg.PairInterval <= 0 {
		cfg.PairInterval = DefaultPairInterval
	}
	if cfg.TimeoutDelay <= 0 {
		cfg.TimeoutDelay = DefaultTimeoutDelay
	}
	if cfg.WebhookDelay <= 0 {
		cfg.WebhookDelay = DefaultWebhookDelay
	}
	if cfg.WebhookAttempts <= 0 {
		cfg.WebhookAttempts = DefaultWebhookAttempts
	}
	if cfg.WebhookRetryDelay <= 0 {
		cfg.WebhookRetryDelay = DefaultWebhookRetryDelay
	}
	s := &Sandbox{
		cfg:        cfg,
		numbers:    map[string]*number{},
		wabas:      map[string]*waba{},
		pairs:      newPairLimiter(cfg.PairBurst, cfg.PairInterval),
		windows:    newWindows(),
		bg:         newBackground(),
		client:     newWebhookClient(),
		byCallback: map[string]int{},
		failedOnce: map[string]bool{},
	}
	s.SetWebhook(cfg.WebhookURL, cfg.AppSecret)
	for id, ts := range cfg.Templates {
		s.wabaFor(id).setTemplates(id, ts)
	}
	for _, n := range cfg.Numbers {
		if n.MessagesPerSecond <= 0 {
			n.MessagesPerSecond = DefaultMessagesPerSecond
		}
		num := &number{Number: n}
		num.resetLimiter()
		s.numbers[n.PhoneNumberID] = num
		s.wabaFor(n.WABAID).tokens[n.AccessToken] = true
	}
	return s
}

func (s *Sandbox) wabaFor(id string) *waba {
	w, ok := s.wabas[id]
	if !ok {
		w = &waba{tokens: map[string]bool{}, byKey: map[string]*domain.Template{}}
		s.wabas[id] = w
	}
	return w
}

// Handler serves Meta's API paths and the sandbox's own /_sandbox paths.
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{version}/{phoneNumberID}/messages", s.handleSend)
	mux.HandleFunc("GET /{version}/{wabaID}/message_templates", s.handleTemplates)
	mux.HandleFunc("GET /_sandbox/requests", s.handleListRequests)
	mux.HandleFunc("DELETE /_sandbox/requests", s.handleReset)
	mux.HandleFunc("GET /_sandbox/webhooks", s.handleListWebhooks)
	mux.HandleFunc("POST /_sandbox/reply", s.handleReply)
	mux.HandleFunc("POST /_sandbox/numbers/{phoneNumberID}/token", s.handleToken)
	mux.HandleFunc("POST /_sandbox/templates/events", s.handleTemplateEvent)
	mux.HandleFunc("POST /_sandbox/user_preferences", s.handleUserPreference)
	// Anything else gets Meta's error shape, so a client with a wrong base
	// URL or version sees a parseable answer naming the path.
	mux.HandleFunc("/", s.handleUnknownPath)
	return mux
}

// Requests returns a copy of every send call received, in arrival order.
func (s *Sandbox) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// CountByCallback reports how many send calls carried data as their
// biz_opaque_callback_data; tests use it to prove a message was sent at
// most once.
func (s *Sandbox) CountByCallback(data string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byCallback[data]
}

// Reset forgets every recorded request and webhook, all rate-limit and
// failure-injection state (revoked tokens included) and every
// customer-service and free entry point window, as if the sandbox had
// just started. The webhook URL stays, and
// deliveries already under way go on (Idle waits for them).
func (s *Sandbox) Reset() {
	s.mu.Lock()
	s.requests = nil
	s.byCallback = map[string]int{}
	s.failedOnce = map[string]bool{}
	s.webhooks = nil
	s.mu.Unlock()
	s.pairs.reset()
	s.windows.reset()
	for _, n := range s.numbers {
		n.resetLimiter()
		n.revoked.Store(false)
	}
}

func (s *Sandbox) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
	if r.CallbackData != "" {
		s.byCallback[r.CallbackData]++
	}
}

// Default is the demo channel of internal/demo as Meta would see it: its
// number, WABA, access token and templates, at the upgraded 1,000
// messages/s so benchmarks measure the gateway rather than the limit.
func Default() Config {
	return Config{
		Numbers: []Number{{
			PhoneNumberID:      demo.PhoneNumberID,
			WABAID:             demo.WABAID,
			AccessToken:        demo.AccessToken,
			DisplayPhoneNumber: demo.DisplayNumber,
			MessagesPerSecond:  1000,
		}},
		Templates: map[string][]domain.Template{demo.WABAID: demo.Templates()},
	}
}

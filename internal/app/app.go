// Package app builds each function from the environment: configuration,
// clients and the controllers, once per process, on first use. Cloud
// Functions run one function per instance, so a function builds only what
// it needs.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/admin"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/batches"
	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/cloudchat"
	"github.com/templategw/templategw/internal/config"
	"github.com/templategw/templategw/internal/console"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/emkt"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/pacing"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/sweep"
	"github.com/templategw/templategw/internal/wati"
	"github.com/templategw/templategw/internal/webhook"
)

// Env is what every function shares in one process.
type Env struct {
	Config  *config.Config
	Logger  *slog.Logger
	Store   *store.Store
	Catalog *catalog.Catalog

	mu     sync.Mutex
	pubsub *pubsub.Client
	pubs   map[string]*queue.Publisher
	pacer  *pacing.Pacer
	limit  *pacing.Requests
}

// NewEnv connects to Firestore (and, lazily, Pub/Sub) for cfg. The clients
// honour FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST.
func NewEnv(ctx context.Context, cfg *config.Config) (*Env, error) {
	fs, err := firestore.NewClient(ctx, cfg.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("firestore client: %w", err)
	}
	st := store.New(fs)
	logger := logging.New(os.Stderr, cfg.LogLevel)
	return &Env{
		Config: cfg,
		Logger: logger,
		Store:  st,
		// Keys are kept current by a listener, which starts with the
		// first authentication: only the functions that authenticate
		// run one.
		Catalog: catalog.New(st, cfg.CacheTTL, catalog.WithKeys(st), catalog.WithLogger(logger)),
		pubs:    map[string]*queue.Publisher{},
	}, nil
}

// Publisher returns a topic's publisher, connecting to Pub/Sub on first
// use; a failed connection is retried on the next call.
func (e *Env) Publisher(ctx context.Context, topic string) (*queue.Publisher, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pubsub == nil {
		c, err := pubsub.NewClient(ctx, e.Config.ProjectID)
		if err != nil {
			return nil, fmt.Errorf("pubsub client: %w", err)
		}
		e.pubsub = c
	}
	p, ok := e.pubs[topic]
	if !ok {
		p = queue.NewPublisher(e.pubsub, topic)
		e.pubs[topic] = p
	}
	return p, nil
}

// Pacer is the process's pacer of channels' messages per second, shared
// by dispatch's single and bulk functions so that its single sends go
// ahead of its bulk ones; its leases live in Firestore beside every other
// instance's. An instance that stops without closing it leaves leases
// that expire within seconds.
func (e *Env) Pacer() *pacing.Pacer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pacer == nil {
		e.pacer = pacing.New(pacing.NewFirestoreLeases(e.Store.Client()), pacing.Options{Log: e.Logger})
	}
	return e.pacer
}

// Limiter is the process's limiter of tenants' requests per second on the
// send routes, shared by the send functions. It leases shares of each
// tenant's limit in Firestore as Pacer leases shares of a channel's rate,
// so the instances together keep to the limit (docs/pacing.md).
func (e *Env) Limiter() *pacing.Requests {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.limit == nil {
		e.limit = pacing.NewRequests(pacing.NewFirestoreLeases(e.Store.Client()), pacing.Options{Log: e.Logger})
	}
	return e.limit
}

// Close gives back the leases of the pacers the process built, so that
// other instances take their room at their next renewal rather than
// after the leases expire.
func (e *Env) Close() error {
	e.mu.Lock()
	p, l := e.pacer, e.limit
	e.pacer, e.limit = nil, nil
	e.mu.Unlock()
	var errs []error
	if p != nil {
		errs = append(errs, p.Close())
	}
	if l != nil {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// acceptOptions are the accept path's options every send function shares;
// wait is Options.Wait.
func (e *Env) acceptOptions(wait time.Duration) accept.Options {
	return accept.Options{PublishTimeout: e.Config.PublishTimeout, Wait: wait,
		Limiter: e.Limiter(), RateLimit: e.Config.TenantRateLimit}
}

// Notifier sends tenant callbacks: a message's status changes and the
// messages contacts send get a first attempt from the calling function
// (unless CALLBACK_INLINE_TIMEOUT is 0), the rest go through the callbacks
// topic.
func (e *Env) Notifier(ctx context.Context) (*callback.Notifier, error) {
	n, err := e.publishingNotifier(ctx)
	if err != nil || e.Config.Callback.InlineTimeout <= 0 {
		return n, err
	}
	// The first attempt is no attempt of the subscription's: it records
	// no dead letter, whatever CALLBACK_MAX_ATTEMPTS says.
	d, err := e.deliverer(e.Config.Callback.InlineTimeout, 0, nil)
	if err != nil {
		return nil, err
	}
	n.First, n.InlineTimeout = d, e.Config.Callback.InlineTimeout
	return n, nil
}

// publishingNotifier sends every callback through the callbacks topic.
func (e *Env) publishingNotifier(ctx context.Context) (*callback.Notifier, error) {
	pub, err := e.Publisher(ctx, e.Config.Callback.Topic)
	if err != nil {
		return nil, err
	}
	n := callback.NewNotifier(pub)
	n.Timeout = e.Config.PublishTimeout
	return n, nil
}

// Accept builds the accept path every dialect shares.
func (e *Env) Accept(ctx context.Context) (*accept.Service, error) {
	pub, err := e.Publisher(ctx, e.Config.DispatchTopic)
	if err != nil {
		return nil, err
	}
	return accept.New(e.Catalog, e.Store, pub, e.acceptOptions(e.Config.SendWait)), nil
}

// Templates builds the templates function (Atom API).
func (e *Env) Templates(ctx context.Context) (http.Handler, error) {
	svc, err := e.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return e.http(atom.New(e.Catalog, e.Store, svc).Handler()), nil
}

// CloudChat builds the cloudchat function (seed 002).
func (e *Env) CloudChat(ctx context.Context) (http.Handler, error) {
	svc, err := e.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return e.http(cloudchat.New(e.Catalog, svc).Handler()), nil
}

// Batches builds the bulk-send service the emkt and wati dialects share.
func (e *Env) Batches(ctx context.Context) (*batch.Service, error) {
	pub, err := e.Publisher(ctx, e.Config.FanoutTopic)
	if err != nil {
		return nil, err
	}
	svc, err := e.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return batch.New(svc, e.Store, pub, batch.Options{PublishTimeout: e.Config.PublishTimeout}), nil
}

// Emkt builds the emkt function (seed 003).
func (e *Env) Emkt(ctx context.Context) (http.Handler, error) {
	b, err := e.Batches(ctx)
	if err != nil {
		return nil, err
	}
	return e.http(emkt.New(e.Catalog, b).Handler()), nil
}

// Wati builds the wati function (seed 004). Its answers are the same for a
// send into an open conversation and any other, so it never waits for
// dispatch's outcome.
func (e *Env) Wati(ctx context.Context) (http.Handler, error) {
	pub, err := e.Publisher(ctx, e.Config.DispatchTopic)
	if err != nil {
		return nil, err
	}
	b, err := e.Batches(ctx)
	if err != nil {
		return nil, err
	}
	svc := accept.New(e.Catalog, e.Store, pub, e.acceptOptions(-1))
	return e.http(wati.New(e.Catalog, e.Store, svc, b, wati.Options{}).Handler()), nil
}

// Fanout builds the fanout function: a batch chunk into messages, whose
// jobs go to dispatch's bulk topic.
func (e *Env) Fanout(ctx context.Context) (*batch.Worker, error) {
	pub, err := e.Publisher(ctx, e.Config.DispatchBulkTopic)
	if err != nil {
		return nil, err
	}
	return batch.NewWorker(e.Store, pub, nil), nil
}

// WhatsApp builds the whatsapp function (Meta's webhook).
func (e *Env) WhatsApp(ctx context.Context) (http.Handler, error) {
	if e.Config.WhatsApp.AppSecret == "" {
		return nil, errors.New("WHATSAPP_APP_SECRET is not set: the webhook cannot check Meta's signatures")
	}
	n, err := e.Notifier(ctx)
	if err != nil {
		return nil, err
	}
	cfg := webhook.Config{VerifyToken: e.Config.WhatsApp.VerifyToken, AppSecret: e.Config.WhatsApp.AppSecret}
	return e.http(webhook.New(cfg, e.Catalog, e.Store, n).WithAccount(e.Store, n).Handler()), nil
}

// Broadcasts builds the batches function: broadcasts' progress, pause,
// resume and cancel, on the bulk-send service the dialects create them
// with.
func (e *Env) Broadcasts(ctx context.Context) (http.Handler, error) {
	b, err := e.Batches(ctx)
	if err != nil {
		return nil, err
	}
	return e.http(batches.New(e.Catalog, b).Handler()), nil
}

// Console builds the console function, the web console (docs/console.md).
// It refuses to start without a session key, which signs its cookies.
func (e *Env) Console(ctx context.Context) (http.Handler, error) {
	b, err := e.Batches(ctx)
	if err != nil {
		return nil, err
	}
	// A message the console resolves as resend goes to dispatch as the
	// CLI's messages resolve sends it.
	pub, err := e.Publisher(ctx, e.Config.DispatchTopic)
	if err != nil {
		return nil, err
	}
	// A dead letter the console replays goes back to the callbacks topic,
	// as the notifier first published it.
	callbacks, err := e.Publisher(ctx, e.Config.Callback.Topic)
	if err != nil {
		return nil, err
	}
	meta := provider.New(provider.Config{BaseURL: e.Config.Meta.BaseURL, Version: e.Config.Meta.APIVersion, Timeout: e.Config.Meta.Timeout}, nil)
	c, err := console.New(console.Config{
		SessionKey: []byte(e.Config.Console.SessionKey), SessionIdle: e.Config.Console.SessionIdle, SessionMax: e.Config.Console.SessionMax,
	}, console.Deps{Auth: e.Catalog, Store: e.Store, Broadcasts: b, Sync: templateSync{e.Store, meta}, Dispatch: pub, Callbacks: callbacks})
	if err != nil {
		return nil, err
	}
	return e.http(c.Handler()), nil
}

// templateSync is the CLI's template sync behind the console's button,
// from the tenant's default channel.
type templateSync struct {
	st   *store.Store
	meta *provider.Client
}

func (t templateSync) SyncTemplates(ctx context.Context, tenant string) (console.SyncResult, error) {
	rep, err := admin.SyncTemplates(ctx, t.st, t.meta, secret.Env{}, tenant, "")
	return console.SyncResult{Added: rep.Added, Updated: rep.Updated, Unchanged: rep.Unchanged, NotApproved: rep.NotApproved}, err
}

// Messages builds the messages function (native API).
func (e *Env) Messages(context.Context) (http.Handler, error) {
	return e.http(messages.New(e.Catalog, e.Store).Handler()), nil
}

// Dispatcher builds the dispatch function, both for single sends and, on
// the bulk topic, for broadcasts' messages.
func (e *Env) Dispatcher(ctx context.Context) (*dispatch.Dispatcher, error) {
	n, err := e.Notifier(ctx)
	if err != nil {
		return nil, err
	}
	p := provider.New(provider.Config{BaseURL: e.Config.Meta.BaseURL, Version: e.Config.Meta.APIVersion, Timeout: e.Config.Meta.Timeout}, nil)
	return dispatch.New(e.Store, e.Catalog, p, secret.Env{}, dispatch.Options{
		Lease: e.Config.Dispatch.Lease, MaxAttempts: e.Config.Dispatch.MaxAttempts, Notifier: n,
		Batches:       batch.NewGate(e.Store, batch.DefaultGateTTL, nil),
		MaxDeliveries: e.Config.Dispatch.MaxDeliveries, UnknownWait: e.Config.Dispatch.UnknownWait, Holds: n,
		Pacer: e.Pacer(), PaceWait: e.Config.Dispatch.PaceWait, HoldLimit: e.Config.Dispatch.HoldLimit,
		Consent: e.Store, ConsentNotifier: n,
	}), nil
}

// Sweeper builds the sweep function. A broadcast's lost jobs go back on
// the bulk topic, where the fan-out put them first.
func (e *Env) Sweeper(ctx context.Context) (*sweep.Sweeper, error) {
	pub, err := e.Publisher(ctx, e.Config.DispatchTopic)
	if err != nil {
		return nil, err
	}
	bulk, err := e.Publisher(ctx, e.Config.DispatchBulkTopic)
	if err != nil {
		return nil, err
	}
	// A run may fail thousands of held messages at once: their callbacks
	// go through the topic, where the callbacks function spreads them,
	// rather than one by one within the run's budget.
	n, err := e.publishingNotifier(ctx)
	if err != nil {
		return nil, err
	}
	b, err := e.Batches(ctx)
	if err != nil {
		return nil, err
	}
	return sweep.New(e.Store, pub, sweep.Options{
		AcceptedAfter: e.Config.Sweep.AcceptedAfter, Batch: e.Config.Sweep.Batch, Budget: e.Config.Sweep.Budget,
		Notifier: n, Batches: b, Bulk: bulk, PublishTimeout: e.Config.PublishTimeout,
		HoldLimit: e.Config.Dispatch.HoldLimit, UnknownWait: e.Config.Dispatch.UnknownWait,
	}), nil
}

// Deliverer builds the callbacks function.
func (e *Env) Deliverer(context.Context) (*callback.Deliverer, error) {
	return e.deliverer(e.Config.Callback.Timeout, e.Config.Callback.MaxAttempts, e.Store)
}

// deliverer is a Deliverer under the deployment's address rules.
func (e *Env) deliverer(timeout time.Duration, maxAttempts int, dead callback.DeadLetters) (*callback.Deliverer, error) {
	ranges, err := e.Config.Callback.Ranges()
	if err != nil {
		return nil, err
	}
	return callback.NewDeliverer(e.Catalog, callback.Options{
		AllowLoopback: e.Config.Callback.AllowLoopback, AllowPrivate: e.Config.Callback.AllowPrivate,
		AllowRanges: ranges, Timeout: timeout, MaxAttempts: maxAttempts, DeadLetters: dead,
	}), nil
}

func (e *Env) http(h http.Handler) http.Handler {
	return logging.Middleware(e.Logger, e.Config.ProjectID, e.Config.TrustedProxyHops)(h)
}

// process is this process's Env, built on first use from the
// environment.
var process = sync.OnceValues(func() (*Env, error) {
	defer processBuilt.Store(true)
	ctx := context.Background()
	cfg, err := config.Load(ctx)
	if err != nil {
		return nil, err
	}
	env, err := NewEnv(ctx, cfg)
	if err == nil {
		closeOnTerm(env)
	}
	return env, err
})

// processBuilt is whether process has run: Shutdown must not build an Env
// only to close it.
var processBuilt atomic.Bool

func built() bool { return processBuilt.Load() }

// lazyHTTP builds a function's handler on its first request; a build
// failure answers 500 and is retried on the next request.
func lazyHTTP(build func(*Env, context.Context) (http.Handler, error)) http.HandlerFunc {
	var mu sync.Mutex
	var h http.Handler
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if h == nil {
			env, err := process()
			if err == nil {
				h, err = build(env, r.Context())
			}
			if err != nil {
				mu.Unlock()
				logging.FromContext(r.Context()).Error("function failed to start", "error", err.Error())
				http.Error(w, `{"success":false,"message":"internal error"}`, http.StatusInternalServerError)
				return
			}
		}
		mu.Unlock()
		h.ServeHTTP(w, r)
	}
}

// eventHandler is what a CloudEvent function's controller serves.
type eventHandler interface {
	HandleEvent(ctx context.Context, e event.Event) error
}

// lazyEvent builds a CloudEvent function's controller on its first event.
// A start-up failure is returned, so Pub/Sub redelivers once the
// configuration is fixed.
func lazyEvent[H eventHandler](name string, build func(*Env, context.Context) (H, error)) func(context.Context, event.Event) error {
	get := sync.OnceValues(func() (H, error) {
		env, err := process()
		if err != nil {
			var zero H
			return zero, err
		}
		return build(env, context.Background())
	})
	return func(ctx context.Context, e event.Event) error {
		h, err := get()
		if err != nil {
			return fmt.Errorf("%s failed to start: %w", name, err)
		}
		env, _ := process()
		// The runtime prints a returned error to stderr itself, outside
		// slog: mask it as the logger masks its lines.
		return logging.MaskError(h.HandleEvent(logging.EventContext(ctx, env.Logger, env.Config.ProjectID, e), e))
	}
}

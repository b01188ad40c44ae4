// Package app builds each function from the environment: configuration,
// clients and the controllers, once per process, on first use. Cloud
// Functions run one function per instance, so a function builds only what
// it needs.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/config"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
)

// Env is what every function shares in one process.
type Env struct {
	Config  *config.Config
	Logger  *slog.Logger
	Store   *store.Store
	Catalog *catalog.Catalog
	pubsub  *pubsub.Client
	pubOnce sync.Once
	pub     *queue.Publisher
}

// NewEnv connects to Firestore (and, lazily, Pub/Sub) for cfg. The clients
// honour FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST.
func NewEnv(ctx context.Context, cfg *config.Config) (*Env, error) {
	fs, err := firestore.NewClient(ctx, cfg.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("firestore client: %w", err)
	}
	st := store.New(fs)
	return &Env{
		Config:  cfg,
		Logger:  logging.New(os.Stderr, cfg.LogLevel),
		Store:   st,
		Catalog: catalog.New(st, cfg.CacheTTL),
	}, nil
}

// Publisher returns the dispatch topic's publisher, connecting on first use.
func (e *Env) Publisher(ctx context.Context) (*queue.Publisher, error) {
	var err error
	e.pubOnce.Do(func() {
		e.pubsub, err = pubsub.NewClient(ctx, e.Config.ProjectID)
		if err == nil {
			e.pub = queue.NewPublisher(e.pubsub, e.Config.DispatchTopic)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("pubsub client: %w", err)
	}
	if e.pub == nil {
		return nil, fmt.Errorf("pubsub client failed to start earlier")
	}
	return e.pub, nil
}

// Templates builds the templates function (Atom API).
func (e *Env) Templates(ctx context.Context) (http.Handler, error) {
	pub, err := e.Publisher(ctx)
	if err != nil {
		return nil, err
	}
	svc := accept.New(e.Catalog, e.Store, pub, accept.Options{PublishTimeout: e.Config.PublishTimeout})
	return e.http(atom.New(e.Catalog, e.Store, svc).Handler()), nil
}

// Messages builds the messages function (native API).
func (e *Env) Messages(context.Context) (http.Handler, error) {
	return e.http(messages.New(e.Catalog, e.Store).Handler()), nil
}

// Dispatcher builds the dispatch function.
func (e *Env) Dispatcher(context.Context) (*dispatch.Dispatcher, error) {
	p := provider.New(provider.Config{BaseURL: e.Config.Meta.BaseURL, Version: e.Config.Meta.APIVersion, Timeout: e.Config.Meta.Timeout}, nil)
	return dispatch.New(e.Store, e.Catalog, p, secret.Env{}, dispatch.Options{
		Lease: e.Config.Dispatch.Lease, MaxAttempts: e.Config.Dispatch.MaxAttempts,
	}), nil
}

func (e *Env) http(h http.Handler) http.Handler {
	return logging.Middleware(e.Logger, e.Config.ProjectID)(h)
}

// process is this process's Env, built on first use from the environment.
var process = sync.OnceValues(func() (*Env, error) {
	ctx := context.Background()
	cfg, err := config.Load(ctx)
	if err != nil {
		return nil, err
	}
	return NewEnv(ctx, cfg)
})

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

// TemplatesFunction is the templates HTTP function.
var TemplatesFunction = lazyHTTP((*Env).Templates)

// MessagesFunction is the messages HTTP function.
var MessagesFunction = lazyHTTP((*Env).Messages)

var dispatcher = sync.OnceValues(func() (*dispatch.Dispatcher, error) {
	env, err := process()
	if err != nil {
		return nil, err
	}
	return env.Dispatcher(context.Background())
})

// DispatchFunction is the dispatch CloudEvent function. A start-up failure
// is returned, so Pub/Sub redelivers once the configuration is fixed.
func DispatchFunction(ctx context.Context, e event.Event) error {
	d, err := dispatcher()
	if err != nil {
		return fmt.Errorf("dispatch failed to start: %w", err)
	}
	env, _ := process()
	return d.HandleEvent(logging.WithLogger(ctx, env.Logger), e)
}

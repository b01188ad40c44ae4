// Package config reads every function's configuration from the environment
// (sethvargo/go-envconfig) and validates it, naming every problem at once.
package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// Config is the configuration of every templategw function. Each function
// reads the whole struct; Terraform sets the same variables on all of them.
type Config struct {
	// ProjectID is the Google Cloud project of Firestore and Pub/Sub.
	ProjectID string `env:"GOOGLE_CLOUD_PROJECT"`
	// DispatchTopic receives one event per accepted message.
	DispatchTopic string `env:"DISPATCH_TOPIC, default=dispatch"`
	// DispatchBulkTopic receives the dispatch jobs of broadcasts' messages,
	// pushed to a function of its own so that a single send never queues
	// behind a broadcast's thousands of jobs on one subscription.
	DispatchBulkTopic string `env:"DISPATCH_BULK_TOPIC, default=dispatch-bulk"`
	// FanoutTopic receives one event per chunk of a bulk send.
	FanoutTopic string `env:"FANOUT_TOPIC, default=fanout"`
	// CacheTTL bounds how stale a cached token, channel or template may be.
	CacheTTL time.Duration `env:"CACHE_TTL, default=30s"`
	// PublishTimeout bounds the publish after the accept commit; past it the
	// answer is still 2xx and sweep republishes.
	PublishTimeout time.Duration `env:"PUBLISH_TIMEOUT, default=5s"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`
	// SendWait bounds how long a send into an open conversation waits for
	// dispatch's outcome to answer 200 Sent; past it the answer is Pending.
	SendWait time.Duration `env:"SEND_WAIT, default=5s"`
	// TrustedProxyHops is how many proxies in front of the functions append
	// to X-Forwarded-For: the access log takes the client's address from
	// that many hops from the right, since the hops to their left are the
	// client's to write. 1 is Google's front end alone; 0 ignores the
	// header.
	TrustedProxyHops int `env:"TRUSTED_PROXY_HOPS, default=1"`
	// TenantRateLimit is the requests per second a tenant that set none
	// (templategw tenant update --rate-limit) may make on the send routes,
	// all instances together. 100 is above the 80 messages a second Meta
	// takes from a number by default, so an integration sending one
	// message per request as fast as its number goes never meets it; a
	// runaway loop or retry storm does, and is refused before it costs a
	// write.
	TenantRateLimit int `env:"TENANT_RATE_LIMIT, default=100"`

	Meta     Meta
	Dispatch Dispatch
	WhatsApp WhatsApp
	Sweep    Sweep
	Callback Callback
	Console  Console
}

// Console configures the web console (docs/console.md). Its session key
// comes from Secret Manager and only the console gets it; the function
// refuses to start without one, since it could not tell its own cookies
// from forged ones.
type Console struct {
	// SessionKey signs session cookies and sign-in forms: at least 32
	// bytes. Changing it signs every browser out.
	SessionKey string `env:"CONSOLE_SESSION_KEY"`
	// SessionIdle ends a session nobody used for that long.
	SessionIdle time.Duration `env:"CONSOLE_SESSION_IDLE, default=30m"`
	// SessionMax ends a session that long after its sign-in, used or not.
	SessionMax time.Duration `env:"CONSOLE_SESSION_MAX, default=12h"`
}

// MaxTenantRateLimit bounds TENANT_RATE_LIMIT as the CLI bounds a
// tenant's own setting (domain.MaxRateLimit; config imports no domain).
const MaxTenantRateLimit = 10_000

// MinSessionKey is the shortest session key the console accepts, in
// bytes: HMAC-SHA256's own block of strength.
const MinSessionKey = 32

// WhatsApp holds the secrets of Meta's webhook (the whatsapp function).
// Both come from Secret Manager; the function refuses to start without
// the app secret, since it could not tell Meta from anyone else.
type WhatsApp struct {
	VerifyToken string `env:"WHATSAPP_VERIFY_TOKEN"`
	AppSecret   string `env:"WHATSAPP_APP_SECRET"`
}

// Sweep configures the sweep function.
type Sweep struct {
	// Topic is what Cloud Scheduler publishes each tick to.
	Topic string `env:"SWEEP_TOPIC, default=sweep"`
	// AcceptedAfter is how long a message may stay accepted before sweep
	// republishes it.
	AcceptedAfter time.Duration `env:"SWEEP_ACCEPTED_AFTER, default=2m"`
	// Batch bounds each step's work per tenant and run, and is the page
	// size of the republishing of lost accepts, which pages on.
	Batch int `env:"SWEEP_BATCH, default=500"`
	// Budget bounds how long a run republishes lost accepts, counted from
	// the run's start: a backlog left when it ends waits for the next
	// run. It stays below the sweep function's timeout (540 s in
	// terraform/functions.tf; Terraform sets it a minute below), so a run
	// ends on its own rather than being cut off mid-publish.
	Budget time.Duration `env:"SWEEP_BUDGET, default=8m"`
}

// Callback configures tenant status callbacks.
type Callback struct {
	Topic           string        `env:"CALLBACK_TOPIC, default=callbacks"`
	DeadLetterTopic string        `env:"CALLBACK_DEAD_LETTER_TOPIC, default=callbacks-dead"`
	MaxAttempts     int           `env:"CALLBACK_MAX_ATTEMPTS, default=10"`
	Timeout         time.Duration `env:"CALLBACK_TIMEOUT, default=10s"`
	// InlineTimeout bounds the first attempt, which the function whose
	// change a callback tells makes itself (callback.Notifier.First); 0
	// makes none, and every callback goes through the topic.
	InlineTimeout time.Duration `env:"CALLBACK_INLINE_TIMEOUT, default=2s"`
	// AllowLoopback and AllowPrivate let callbacks reach loopback and
	// private addresses (never link-local ones); both are off in the cloud.
	AllowLoopback bool `env:"CALLBACK_ALLOW_LOOPBACK, default=false"`
	AllowPrivate  bool `env:"CALLBACK_ALLOW_PRIVATE, default=false"`
	// AllowRanges names, comma-separated, CIDR ranges callbacks may reach
	// although the address guard refuses them (10.0.0.0/8,fd00::/8); the
	// metadata server stays refused. Ranges parses it.
	AllowRanges []string `env:"CALLBACK_ALLOW_RANGES"`
}

// Meta configures the WhatsApp Cloud API client.
type Meta struct {
	BaseURL    string        `env:"META_BASE_URL, default=https://graph.facebook.com"`
	APIVersion string        `env:"META_API_VERSION, default=v24.0"`
	Timeout    time.Duration `env:"META_TIMEOUT, default=15s"`
}

// Dispatch configures the provider call.
type Dispatch struct {
	// Lease is how long a claimed message is reserved for one dispatch
	// attempt; it must outlast the provider timeout.
	Lease time.Duration `env:"DISPATCH_LEASE, default=60s"`
	// MaxAttempts is how many retryable failures a message may have before
	// it is failed for good.
	MaxAttempts int `env:"DISPATCH_MAX_ATTEMPTS, default=10"`
	// MaxDeliveries is the dispatch subscription's max_delivery_attempts:
	// on a job's last delivery, a retry that would dead-letter the job
	// fails its message with the reason instead. 0 turns this off (a
	// subscription without a dead-letter policy counts no deliveries).
	MaxDeliveries int `env:"DISPATCH_MAX_DELIVERIES, default=50"`
	// HoldLimit is how long a message may wait held (its channel refused
	// by Meta as a whole) before sweep fails it with the reason.
	HoldLimit time.Duration `env:"HOLD_LIMIT, default=24h"`
	// UnknownWait is how long a message whose outcome is unknown waits for
	// Meta's webhook before sweep resends it, once (or leaves it for a
	// person, by the tenant's unknown policy).
	UnknownWait time.Duration `env:"UNKNOWN_WAIT, default=10m"`
	// PaceWait is the longest a delivery waits for its channel's pace
	// before it gives the job back to Pub/Sub unclaimed; it must stay
	// below the lease and the function's timeout, since it is spent before
	// the claim.
	PaceWait time.Duration `env:"DISPATCH_PACE_WAIT, default=10s"`
}

// Load reads the configuration from the environment and validates it.
func Load(ctx context.Context) (*Config, error) {
	return LoadFrom(ctx, envconfig.OsLookuper())
}

// LoadFrom reads the configuration from l and validates it.
func LoadFrom(ctx context.Context, l envconfig.Lookuper) (*Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	return &c, nil
}

// Defaults is the configuration with no variable set: every field at the
// default its tag declares. Code that needs a default (a topic's name, the
// dev stack's wiring, the checks on Terraform's defaults) reads it here,
// so each default is written once, in its tag. It is not validated: no
// project has a default.
func Defaults() Config {
	var c Config
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &c, Lookuper: envconfig.MapLookuper(nil)}); err != nil {
		// With nothing set only a malformed tag can fail, which this
		// package's tests would have caught.
		panic(fmt.Sprintf("config defaults: %v", err))
	}
	return c
}

// Validate names every problem of c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.ProjectID == "" {
		errs = append(errs, errors.New("GOOGLE_CLOUD_PROJECT is required"))
	}
	if c.DispatchTopic == "" || c.DispatchBulkTopic == "" || c.FanoutTopic == "" {
		errs = append(errs, errors.New("DISPATCH_TOPIC, DISPATCH_BULK_TOPIC and FANOUT_TOPIC must not be empty"))
	}
	if c.CacheTTL < 0 {
		errs = append(errs, errors.New("CACHE_TTL must not be negative"))
	}
	if c.PublishTimeout <= 0 {
		errs = append(errs, errors.New("PUBLISH_TIMEOUT must be positive"))
	}
	if u, err := url.Parse(c.Meta.BaseURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		errs = append(errs, fmt.Errorf("META_BASE_URL %q is not an http(s) URL", c.Meta.BaseURL))
	}
	if c.Meta.APIVersion == "" {
		errs = append(errs, errors.New("META_API_VERSION must not be empty"))
	}
	if c.Meta.Timeout <= 0 {
		errs = append(errs, errors.New("META_TIMEOUT must be positive"))
	}
	if c.Dispatch.Lease <= c.Meta.Timeout {
		errs = append(errs, fmt.Errorf("DISPATCH_LEASE (%s) must be longer than META_TIMEOUT (%s)", c.Dispatch.Lease, c.Meta.Timeout))
	}
	if c.Dispatch.MaxAttempts < 1 {
		errs = append(errs, errors.New("DISPATCH_MAX_ATTEMPTS must be at least 1"))
	}
	if d := c.Dispatch.MaxDeliveries; d != 0 && (d < 5 || d > 100) {
		errs = append(errs, fmt.Errorf("DISPATCH_MAX_DELIVERIES %d is neither 0 (off) nor within Pub/Sub's 5 to 100", d))
	}
	if w := c.Dispatch.PaceWait; w <= 0 || w >= c.Dispatch.Lease {
		errs = append(errs, fmt.Errorf("DISPATCH_PACE_WAIT (%s) must be positive and shorter than DISPATCH_LEASE (%s)", w, c.Dispatch.Lease))
	}
	if c.Dispatch.HoldLimit <= 0 || c.Dispatch.UnknownWait <= 0 {
		errs = append(errs, errors.New("HOLD_LIMIT and UNKNOWN_WAIT must be positive"))
	}
	if c.SendWait <= 0 {
		errs = append(errs, errors.New("SEND_WAIT must be positive"))
	}
	if c.Sweep.Topic == "" || c.Callback.Topic == "" || c.Callback.DeadLetterTopic == "" {
		errs = append(errs, errors.New("SWEEP_TOPIC, CALLBACK_TOPIC and CALLBACK_DEAD_LETTER_TOPIC must not be empty"))
	}
	if c.Sweep.AcceptedAfter <= 0 || c.Sweep.Budget <= 0 || c.Sweep.Batch < 1 {
		errs = append(errs, errors.New("SWEEP_ACCEPTED_AFTER and SWEEP_BUDGET must be positive and SWEEP_BATCH at least 1"))
	}
	if c.Callback.MaxAttempts < 5 || c.Callback.MaxAttempts > 100 {
		errs = append(errs, fmt.Errorf("CALLBACK_MAX_ATTEMPTS %d is outside Pub/Sub's 5 to 100", c.Callback.MaxAttempts))
	}
	if c.Callback.InlineTimeout < 0 || c.Callback.InlineTimeout > c.Callback.Timeout {
		errs = append(errs, fmt.Errorf("CALLBACK_INLINE_TIMEOUT %s must be 0 (no inline attempt) or up to CALLBACK_TIMEOUT %s", c.Callback.InlineTimeout, c.Callback.Timeout))
	}
	if c.Callback.Timeout <= 0 {
		errs = append(errs, errors.New("CALLBACK_TIMEOUT must be positive"))
	}
	if _, err := c.Callback.Ranges(); err != nil {
		errs = append(errs, err)
	}
	if c.Console.SessionIdle <= 0 || c.Console.SessionMax < c.Console.SessionIdle {
		errs = append(errs, fmt.Errorf("CONSOLE_SESSION_IDLE (%s) must be positive and CONSOLE_SESSION_MAX (%s) at least as long", c.Console.SessionIdle, c.Console.SessionMax))
	}
	if k := c.Console.SessionKey; k != "" && len(k) < MinSessionKey {
		errs = append(errs, fmt.Errorf("CONSOLE_SESSION_KEY has %d bytes, want at least %d", len(k), MinSessionKey))
	}
	if c.TenantRateLimit < 1 || c.TenantRateLimit > MaxTenantRateLimit {
		errs = append(errs, fmt.Errorf("TENANT_RATE_LIMIT %d: want 1 to %d requests per second", c.TenantRateLimit, MaxTenantRateLimit))
	}
	if c.TrustedProxyHops < 0 {
		errs = append(errs, fmt.Errorf("TRUSTED_PROXY_HOPS %d must not be negative", c.TrustedProxyHops))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL %q is not debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

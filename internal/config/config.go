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

	Meta     Meta
	Dispatch Dispatch
	WhatsApp WhatsApp
	Sweep    Sweep
	Callback Callback
}

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
	// Batch bounds each step's work per tenant and run.
	Batch int `env:"SWEEP_BATCH, default=500"`
}

// Callback configures tenant status callbacks.
type Callback struct {
	Topic           string        `env:"CALLBACK_TOPIC, default=callbacks"`
	DeadLetterTopic string        `env:"CALLBACK_DEAD_LETTER_TOPIC, default=callbacks-dead"`
	MaxAttempts     int           `env:"CALLBACK_MAX_ATTEMPTS, default=10"`
	Timeout         time.Duration `env:"CALLBACK_TIMEOUT, default=10s"`
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
	if c.DispatchTopic == "" || c.FanoutTopic == "" {
		errs = append(errs, errors.New("DISPATCH_TOPIC and FANOUT_TOPIC must not be empty"))
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
	if c.SendWait <= 0 {
		errs = append(errs, errors.New("SEND_WAIT must be positive"))
	}
	if c.Sweep.Topic == "" || c.Callback.Topic == "" || c.Callback.DeadLetterTopic == "" {
		errs = append(errs, errors.New("SWEEP_TOPIC, CALLBACK_TOPIC and CALLBACK_DEAD_LETTER_TOPIC must not be empty"))
	}
	if c.Sweep.AcceptedAfter <= 0 || c.Sweep.Batch < 1 {
		errs = append(errs, errors.New("SWEEP_ACCEPTED_AFTER must be positive and SWEEP_BATCH at least 1"))
	}
	if c.Callback.MaxAttempts < 5 || c.Callback.MaxAttempts > 100 {
		errs = append(errs, fmt.Errorf("CALLBACK_MAX_ATTEMPTS %d is outside Pub/Sub's 5 to 100", c.Callback.MaxAttempts))
	}
	if c.Callback.Timeout <= 0 {
		errs = append(errs, errors.New("CALLBACK_TIMEOUT must be positive"))
	}
	if _, err := c.Callback.Ranges(); err != nil {
		errs = append(errs, err)
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

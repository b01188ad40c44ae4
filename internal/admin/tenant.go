package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/config"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// tenantView is a tenant as the CLI shows it: the callback URL only as
// scheme and host (its path or query may carry the receiver's own token),
// and never the callback secret.
type tenantView struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	CountryCode       string `json:"countryCode,omitempty"`
	ConversationLimit int    `json:"conversationLimit"`
	// ConversationHours is the period in force, the default included.
	ConversationHours int    `json:"conversationHours"`
	CallbackURLSet    bool   `json:"callbackUrlSet"`
	CallbackHost      string `json:"callbackHost,omitempty"`
	// UnknownPolicy is the policy in force, the default included.
	UnknownPolicy domain.UnknownPolicy `json:"unknownPolicy"`
	// RateLimit is the tenant's requests per second on the send routes;
	// 0 is the deployment's TENANT_RATE_LIMIT, which the CLI cannot see.
	RateLimit int `json:"rateLimit"`
	// CallbackSecret is filled only by tenant create, the one time it is
	// shown.
	CallbackSecret string `json:"callbackSecret,omitempty"`
}

func viewTenant(t domain.Tenant) tenantView {
	v := tenantView{ID: t.ID, Name: t.Name, CountryCode: t.CountryCode, ConversationLimit: t.ConversationLimit,
		ConversationHours: int(t.ConversationPeriod() / time.Hour),
		CallbackURLSet:    t.CallbackURL != "", CallbackHost: urlHost(t.CallbackURL), UnknownPolicy: domain.UnknownHold,
		RateLimit: t.RateLimit}
	if t.ResendsUnknown() {
		v.UnknownPolicy = domain.UnknownResend
	}
	return v
}

// tenantRows are a tenant's lines in create's and update's tables.
func tenantRows(tw *tabwriter.Writer, v tenantView) {
	row(tw, "tenant", v.ID)
	row(tw, "name", v.Name)
	row(tw, "country code", v.CountryCode)
	row(tw, "conversation limit", limitText(v.ConversationLimit))
	row(tw, "conversation hours", v.ConversationHours)
	row(tw, "callback url", callbackText(v))
	row(tw, "unknown policy", v.UnknownPolicy)
	row(tw, "rate limit", rateText(v.RateLimit))
}

// rateText is a tenant's request limit as the tables show it.
func rateText(n int) string {
	if n == 0 {
		return "default (TENANT_RATE_LIMIT)"
	}
	return fmt.Sprintf("%d/s", n)
}

// urlHost is a URL's scheme and host, what logs show of a callback URL.
func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if raw == "" || err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func limitText(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

func (c *CLI) tenantCreate(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("tenant create", "create a tenant; its callback secret is generated and printed only this once")
	id := f.fs.String("id", "", "tenant id: letters, digits, - and _, at most 64 (default: a random id)")
	s := addSettings(f, true)
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("name"); err != nil {
		return err
	}
	t := domain.Tenant{ID: *id}
	if t.ID == "" {
		t.ID = store.NewID()
	}
	if !idPattern.MatchString(t.ID) {
		return f.errorf("--id %q: want letters, digits, - and _, at most 64, starting with a letter or digit", t.ID)
	}
	if err := s.check(ctx, f); err != nil {
		return err
	}
	s.apply(&t)
	// Every tenant gets a secret, so a callback URL set later on the tenant
	// or on one of its tokens is signed from its first event.
	t.CallbackSecret = newSecret()

	st, done, err := c.open(ctx, f.project)
	if err != nil {
		return err
	}
	defer done()
	if err := st.CreateTenant(ctx, t); err != nil {
		if errors.Is(err, store.ErrExists) {
			return f.errorf("--id: tenant %s already exists", t.ID)
		}
		return err
	}
	v := viewTenant(t)
	v.CallbackSecret = t.CallbackSecret
	return emit(out, f.json, v, func(tw *tabwriter.Writer) {
		tenantRows(tw, v)
		row(tw, "callback secret", v.CallbackSecret)
		fmt.Fprintln(tw, "\nThe callback secret is shown only now: keep it where the callback receiver can read it.")
	})
}

func (c *CLI) tenantUpdate(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("tenant update", "change a tenant's settings: only the flags given, checked as create checks them")
	id := f.fs.String("id", "", "tenant id (required)")
	s := addSettings(f, false)
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("id"); err != nil {
		return err
	}
	change := s.change(f)
	if change == (store.TenantChange{}) {
		return f.errorf("nothing to change: give at least one of --%s", strings.Join(settingNames, ", --"))
	}
	if err := s.check(ctx, f); err != nil {
		return err
	}

	st, done, err := c.open(ctx, f.project)
	if err != nil {
		return err
	}
	defer done()
	t, err := st.UpdateTenant(ctx, *id, change)
	if errors.Is(err, store.ErrNotFound) {
		return f.errorf("--id: no tenant %s", *id)
	}
	if err != nil {
		return err
	}
	v := viewTenant(t)
	return emit(out, f.json, v, func(tw *tabwriter.Writer) { tenantRows(tw, v) })
}

func callbackText(v tenantView) string {
	if !v.CallbackURLSet {
		return "not set"
	}
	return "set (" + v.CallbackHost + ")"
}

// callbackOptions are the address rules the callbacks function applies,
// from the same variables, so a URL refused at delivery is refused here.
func callbackOptions(ctx context.Context) (callback.Options, error) {
	var cb config.Callback
	if err := envconfig.Process(ctx, &cb); err != nil {
		return callback.Options{}, fmt.Errorf("read CALLBACK_* configuration: %w", err)
	}
	ranges, err := cb.Ranges()
	if err != nil {
		return callback.Options{}, err
	}
	return callback.Options{AllowLoopback: cb.AllowLoopback, AllowPrivate: cb.AllowPrivate, AllowRanges: ranges}, nil
}

// newSecret is a callback signing secret: 32 random bytes in hex, what
// docs/callbacks.md asks for (openssl rand -hex 32).
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

func (c *CLI) tenantList(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("tenant list", "list every tenant: id, name, plan limit, conversation hours, request limit and whether a callback URL is set")
	if err := f.parse(args, out); err != nil {
		return err
	}
	st, done, err := c.open(ctx, f.project)
	if err != nil {
		return err
	}
	defer done()
	list, err := st.ListTenants(ctx)
	if err != nil {
		return err
	}
	views := make([]tenantView, 0, len(list))
	for _, t := range list {
		views = append(views, viewTenant(t))
	}
	return emit(out, f.json, struct {
		Tenants []tenantView `json:"tenants"`
	}{views}, func(tw *tabwriter.Writer) {
		row(tw, "ID", "NAME", "COUNTRY", "LIMIT", "HOURS", "RATE", "CALLBACK")
		for _, v := range views {
			rate := "default"
			if v.RateLimit > 0 {
				rate = fmt.Sprintf("%d/s", v.RateLimit)
			}
			row(tw, v.ID, v.Name, v.CountryCode, limitText(v.ConversationLimit), v.ConversationHours, rate, callbackText(v))
		}
	})
}

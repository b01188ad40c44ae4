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
	CallbackURLSet    bool   `json:"callbackUrlSet"`
	CallbackHost      string `json:"callbackHost,omitempty"`
	// CallbackSecret is filled only by tenant create, the one time it is
	// shown.
	CallbackSecret string `json:"callbackSecret,omitempty"`
}

func viewTenant(t domain.Tenant) tenantView {
	return tenantView{ID: t.ID, Name: t.Name, CountryCode: t.CountryCode, ConversationLimit: t.ConversationLimit,
		CallbackURLSet: t.CallbackURL != "", CallbackHost: urlHost(t.CallbackURL)}
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
	name := f.fs.String("name", "", "the business's name (required)")
	cc := f.fs.String("country-code", "", "default country code, digits (e.g. 55): prepended to national numbers")
	limit := f.fs.Int("conversation-limit", 0, "conversations per calendar month the plan allows; 0 is unlimited")
	cbURL := f.fs.String("callback-url", "", "URL that receives status callbacks (http or https, no credentials)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("name"); err != nil {
		return err
	}
	t := domain.Tenant{ID: *id, Name: strings.TrimSpace(*name), CountryCode: *cc, ConversationLimit: *limit, CallbackURL: *cbURL}
	if t.ID == "" {
		t.ID = store.NewID()
	}
	if !idPattern.MatchString(t.ID) {
		return f.errorf("--id %q: want letters, digits, - and _, at most 64, starting with a letter or digit", t.ID)
	}
	if t.CountryCode != "" && !digits(t.CountryCode, 3) {
		return f.errorf("--country-code %q: want 1 to 3 digits, without +", t.CountryCode)
	}
	if t.ConversationLimit < 0 {
		return f.errorf("--conversation-limit: must be 0 (unlimited) or more")
	}
	if t.CallbackURL != "" {
		opt, err := callbackOptions(ctx)
		if err != nil {
			return err
		}
		if err := callback.CheckURL(t.CallbackURL, opt); err != nil {
			return f.errorf("--callback-url: %v", err)
		}
	}
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
		row(tw, "tenant", v.ID)
		row(tw, "name", v.Name)
		row(tw, "country code", v.CountryCode)
		row(tw, "conversation limit", limitText(v.ConversationLimit))
		row(tw, "callback url", callbackText(v))
		row(tw, "callback secret", v.CallbackSecret)
		fmt.Fprintln(tw, "\nThe callback secret is shown only now: keep it where the callback receiver can read it.")
	})
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
	return callback.Options{AllowLoopback: cb.AllowLoopback, AllowPrivate: cb.AllowPrivate}, nil
}

// newSecret is a callback signing secret: 32 random bytes in hex, what
// docs/callbacks.md asks for (openssl rand -hex 32).
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

func (c *CLI) tenantList(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("tenant list", "list every tenant: id, name, plan limit and whether a callback URL is set")
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
		row(tw, "ID", "NAME", "COUNTRY", "LIMIT", "CALLBACK")
		for _, v := range views {
			row(tw, v.ID, v.Name, v.CountryCode, limitText(v.ConversationLimit), callbackText(v))
		}
	})
}

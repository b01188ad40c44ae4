package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// tokenView is a key's grant as the CLI shows it. Token is filled only
// by token create, the one time it is shown.
type tokenView struct {
	Token          string     `json:"token,omitempty"`
	ID             string     `json:"id,omitempty"`
	Prefix         string     `json:"prefix,omitempty"`
	Hash           string     `json:"hash"`
	Tenant         string     `json:"tenant"`
	Integration    string     `json:"integration"`
	Scopes         []string   `json:"scopes"`
	Channels       []string   `json:"channels"`
	Groups         []string   `json:"groups"`
	DefaultChannel string     `json:"defaultChannel,omitempty"`
	PendingCode    int        `json:"pendingCode"`
	CallbackURLSet bool       `json:"callbackUrlSet"`
	CreatedAt      *time.Time `json:"createdAt,omitempty"`
	ExpiresAt      *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt     *time.Time `json:"lastUsedAt,omitempty"`
	Revoked        bool       `json:"revoked"`
}

func viewToken(hash string, t domain.Token) tokenView {
	code := t.PendingCode
	if code == 0 {
		code = http.StatusAccepted
	}
	scopes := t.Scopes
	if scopes == nil {
		scopes = domain.AllScopes() // a token from before scopes has them all
	}
	v := tokenView{ID: t.KeyID, Hash: hash, Tenant: t.Tenant, Integration: t.Integration,
		Scopes: make([]string, 0, len(scopes)), Channels: orEmpty(t.Channels), Groups: orEmpty(t.Groups),
		DefaultChannel: t.DefaultChannel, PendingCode: code, CallbackURLSet: t.CallbackURL != "", Revoked: t.Revoked,
		CreatedAt: timeOrNil(t.CreatedAt), ExpiresAt: timeOrNil(t.ExpiresAt), LastUsedAt: timeOrNil(t.LastUsedAt)}
	if t.KeyID != "" {
		v.Prefix = domain.KeyPrefix + t.KeyID
	}
	for _, s := range scopes {
		v.Scopes = append(v.Scopes, string(s))
	}
	return v
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// key names a key in a table: its prefix, or for a token issued before
// keys had ids, its hash (what token revoke takes for it).
func (v tokenView) key() string {
	if v.Prefix != "" {
		return v.Prefix
	}
	return "sha256:" + v.Hash
}

func (v tokenView) channels() string {
	if len(v.Channels) == 0 {
		return "all"
	}
	return strings.Join(v.Channels, ",")
}

func when(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.Format(time.RFC3339)
}

func (c *CLI) tokenCreate(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("token create", "issue an API key for one integration of a tenant; it is printed only this once and stored only as its sha256")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	integration := f.fs.String("integration", "", "integration name, e.g. the client system (required)")
	scopes := f.fs.String("scopes", "all", "comma-separated scopes the key may use: send, read:messages, contacts, console, admin, or all")
	channels := f.fs.String("channels", "", "comma-separated channel ids the key may send from (default: all of the tenant's)")
	expires := f.fs.String("expires", "", "when the key stops working: a duration (90d, 12h) or a date (2026-12-31, RFC 3339); default never")
	groups := f.fs.String("groups", "", "comma-separated groups; the first is a send's default groupName")
	defChannel := f.fs.String("default-channel", "", "channel id this key sends from when a request names none (default: the first of --channels)")
	pending := f.fs.Int("pending-code", http.StatusAccepted, "HTTP code of a Pending answer: 202 (seed 000) or 200 (clients built on seed 001)")
	cbURL := f.fs.String("callback-url", "", "URL that receives this integration's status callbacks instead of the tenant's")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant", "integration"); err != nil {
		return err
	}
	if *pending != http.StatusAccepted && *pending != http.StatusOK {
		return f.errorf("--pending-code %d: want 202 or 200", *pending)
	}
	now := time.Now().UTC()
	grant := domain.Token{Tenant: *tenant, Integration: strings.TrimSpace(*integration), Groups: splitList(*groups),
		DefaultChannel: *defChannel, CallbackURL: *cbURL, Channels: splitList(*channels), CreatedAt: now}
	var err error
	if grant.Scopes, err = domain.ParseScopes(*scopes); err != nil {
		return f.errorf("--%v", err)
	}
	if *expires != "" {
		if grant.ExpiresAt, err = parseExpiry(*expires, now); err != nil {
			return f.errorf("--expires: %v", err)
		}
	}
	if grant.DefaultChannel == "" && len(grant.Channels) > 0 {
		// A key limited to some numbers sends from the first of them
		// when a request names none, rather than being refused.
		grant.DefaultChannel = grant.Channels[0]
	}
	if !grant.AllowsChannel(grant.DefaultChannel) {
		return f.errorf("--default-channel: %s is not one of --channels", grant.DefaultChannel)
	}
	if *pending == http.StatusOK {
		grant.PendingCode = http.StatusOK // 0 stays the default, 202
	}
	if *cbURL != "" {
		opt, err := callbackOptions(ctx)
		if err != nil {
			return err
		}
		if err := callback.CheckURL(*cbURL, opt); err != nil {
			return f.errorf("--callback-url: %v", err)
		}
	}

	st, done, err := c.openTenant(ctx, f, grant.Tenant)
	if err != nil {
		return err
	}
	defer done()
	for _, ch := range slices.Compact(append(slices.Clone(grant.Channels), grant.DefaultChannel)) {
		if ch == "" {
			continue
		}
		if _, err := findChannel(ctx, st, grant.Tenant, ch); err != nil {
			name := "--channels"
			if ch == *defChannel {
				name = "--default-channel"
			}
			return f.errorf("%s: %v", name, err)
		}
	}
	token, id := domain.NewKey()
	grant.KeyID = id
	if err := st.PutToken(ctx, token, grant); err != nil {
		return err
	}
	v := viewToken(store.HashToken(token), grant)
	v.Token = token
	cb := "the tenant's"
	if v.CallbackURLSet {
		cb = "set"
	}
	return emit(out, f.json, v, func(tw *tabwriter.Writer) {
		row(tw, "token", v.Token)
		row(tw, "id", v.ID)
		row(tw, "hash", v.Hash)
		row(tw, "tenant", v.Tenant)
		row(tw, "integration", v.Integration)
		row(tw, "scopes", strings.Join(v.Scopes, ","))
		row(tw, "channels", v.channels())
		row(tw, "expires", when(v.ExpiresAt, "never"))
		row(tw, "groups", strings.Join(v.Groups, ","))
		row(tw, "default channel", v.DefaultChannel)
		row(tw, "pending code", v.PendingCode)
		row(tw, "callback url", cb)
		fmt.Fprintln(tw, "\nThe token is shown only now: templategw stores only its sha256. token list shows it by its prefix, tgw_"+v.ID+"; token revoke takes --id "+v.ID+".")
	})
}

// parseExpiry reads --expires: a duration from now (Go's, or whole days
// as "90d"), or a date or RFC 3339 time. It must lie ahead.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	var at time.Time
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 3650 {
			return at, fmt.Errorf("%q: want whole days from 1 to 3650, e.g. 90d", s)
		}
		at = now.AddDate(0, 0, n)
	} else if d, err := time.ParseDuration(s); err == nil {
		at = now.Add(d)
	} else if t, err := time.Parse(time.DateOnly, s); err == nil {
		at = t
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t.UTC()
	} else {
		return at, fmt.Errorf("%q: want a duration (90d, 12h) or a date (2026-12-31, or RFC 3339)", s)
	}
	if !at.After(now) {
		return at, fmt.Errorf("%q is not in the future", s)
	}
	return at.Truncate(time.Second), nil
}

func (c *CLI) tokenList(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("token list", "list a tenant's keys by prefix: scopes, channels, expiry, last use; keys themselves are never stored, so never listed")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant"); err != nil {
		return err
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	list, err := st.TenantTokens(ctx, *tenant)
	if err != nil {
		return err
	}
	views := make([]tokenView, 0, len(list))
	for _, g := range list {
		views = append(views, viewToken(g.Hash, g.Token))
	}
	return emit(out, f.json, struct {
		Tokens []tokenView `json:"tokens"`
	}{views}, func(tw *tabwriter.Writer) {
		row(tw, "KEY", "INTEGRATION", "SCOPES", "CHANNELS", "EXPIRES", "LAST USED", "REVOKED")
		for _, v := range views {
			row(tw, v.key(), v.Integration, strings.Join(v.Scopes, ","), v.channels(), when(v.ExpiresAt, "never"),
				when(v.LastUsedAt, "never"), yesNo(v.Revoked))
		}
	})
}

// hashPattern is a token's stored id: a hex sha256.
var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// keyIDPattern is a key's public id, as token create and list print it.
var keyIDPattern = regexp.MustCompile(`^[a-z2-7]{10}$`)

func (c *CLI) tokenRevoke(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("token revoke", "revoke a key: every instance refuses it within two seconds")
	token := f.fs.String("token", "", "the key to revoke")
	id := f.fs.String("id", "", "or: the key's id, as token create and token list print it (tgw_ID)")
	hash := f.fs.String("hash", "", "or: the key's sha256, as token create and token list print it")
	tenant := f.fs.String("tenant", "", "refuse unless the key belongs to this tenant")
	if err := f.parse(args, out); err != nil {
		return err
	}
	*id = strings.TrimPrefix(*id, domain.KeyPrefix)
	given := 0
	for _, v := range []string{*token, *id, *hash} {
		if v != "" {
			given++
		}
	}
	switch {
	case given != 1:
		return f.errorf("give exactly one of --token, --id and --hash")
	case *hash != "" && !hashPattern.MatchString(*hash):
		return f.errorf("--hash: want the 64 lowercase hex digits of a sha256")
	case *id != "" && !keyIDPattern.MatchString(*id):
		return f.errorf("--id: want the 10 characters after tgw_ in the key's prefix")
	}
	st, done, err := c.open(ctx, f.project)
	if err != nil {
		return err
	}
	defer done()
	h, grant, err := findKey(ctx, st, *token, *id, *hash)
	if errors.Is(err, store.ErrNotFound) {
		return f.errorf("no such token")
	}
	if err != nil {
		return err
	}
	if *tenant != "" && grant.Tenant != *tenant {
		return f.errorf("--tenant: the token belongs to another tenant")
	}
	if grant, err = st.RevokeToken(ctx, h); err != nil {
		return err
	}
	v := viewToken(h, grant)
	return emit(out, f.json, v, func(tw *tabwriter.Writer) {
		row(tw, "key", v.key())
		row(tw, "tenant", v.Tenant)
		row(tw, "integration", v.Integration)
		row(tw, "revoked", yesNo(v.Revoked))
	})
}

// findKey finds the key one of token, id and hash names, and its hash.
func findKey(ctx context.Context, st *store.Store, token, id, hash string) (string, domain.Token, error) {
	if id != "" {
		list, err := st.TokensByKeyID(ctx, id)
		if err != nil {
			return "", domain.Token{}, err
		}
		switch len(list) {
		case 0:
			return "", domain.Token{}, store.ErrNotFound
		case 1:
			return list[0].Hash, list[0].Token, nil
		}
		return "", domain.Token{}, errors.New("two keys share this id: revoke by --hash")
	}
	if token != "" {
		hash = store.HashToken(token)
	}
	grant, err := st.Token(ctx, hash)
	return hash, grant, err
}

package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// tokenPrefix marks templategw tokens, so secret scanners and people can
// recognise one pasted where it should not be.
const tokenPrefix = "tgw_"

// newToken is a bearer token: 32 random bytes, URL-safe, prefixed.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenView is a token's grant as the CLI shows it. Token is filled only
// by token create, the one time it is shown.
type tokenView struct {
	Token          string   `json:"token,omitempty"`
	Hash           string   `json:"hash"`
	Tenant         string   `json:"tenant"`
	Integration    string   `json:"integration"`
	Groups         []string `json:"groups"`
	DefaultChannel string   `json:"defaultChannel,omitempty"`
	PendingCode    int      `json:"pendingCode"`
	CallbackURLSet bool     `json:"callbackUrlSet"`
	Revoked        bool     `json:"revoked"`
}

func viewToken(hash string, t domain.Token) tokenView {
	code := t.PendingCode
	if code == 0 {
		code = http.StatusAccepted
	}
	groups := t.Groups
	if groups == nil {
		groups = []string{}
	}
	return tokenView{Hash: hash, Tenant: t.Tenant, Integration: t.Integration, Groups: groups, DefaultChannel: t.DefaultChannel,
		PendingCode: code, CallbackURLSet: t.CallbackURL != "", Revoked: t.Revoked}
}

func (c *CLI) tokenCreate(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("token create", "issue a bearer token for one integration of a tenant; it is printed only this once and stored only as its sha256")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	integration := f.fs.String("integration", "", "integration name, e.g. the client system (required)")
	groups := f.fs.String("groups", "", "comma-separated groups; the first is a send's default groupName")
	defChannel := f.fs.String("default-channel", "", "channel id this token sends from when a request names none")
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
	if *cbURL != "" {
		opt, err := callbackOptions(ctx)
		if err != nil {
			return err
		}
		if err := callback.CheckURL(*cbURL, opt); err != nil {
			return f.errorf("--callback-url: %v", err)
		}
	}
	grant := domain.Token{Tenant: *tenant, Integration: strings.TrimSpace(*integration), Groups: splitList(*groups),
		DefaultChannel: *defChannel, CallbackURL: *cbURL}
	if *pending == http.StatusOK {
		grant.PendingCode = http.StatusOK // 0 stays the default, 202
	}

	st, done, err := c.openTenant(ctx, f, grant.Tenant)
	if err != nil {
		return err
	}
	defer done()
	if grant.DefaultChannel != "" {
		if _, err := findChannel(ctx, st, grant.Tenant, grant.DefaultChannel); err != nil {
			return f.errorf("--default-channel: %v", err)
		}
	}
	token := newToken()
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
		row(tw, "hash", v.Hash)
		row(tw, "tenant", v.Tenant)
		row(tw, "integration", v.Integration)
		row(tw, "groups", strings.Join(v.Groups, ","))
		row(tw, "default channel", v.DefaultChannel)
		row(tw, "pending code", v.PendingCode)
		row(tw, "callback url", cb)
		fmt.Fprintln(tw, "\nThe token is shown only now: templategw stores only its sha256 (the hash above, which token revoke also takes).")
	})
}

func (c *CLI) tokenList(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("token list", "list a tenant's tokens by their sha256; tokens themselves are never stored, so never listed")
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
		row(tw, "HASH", "INTEGRATION", "GROUPS", "DEFAULT CHANNEL", "PENDING", "REVOKED")
		for _, v := range views {
			row(tw, v.Hash, v.Integration, strings.Join(v.Groups, ","), v.DefaultChannel, v.PendingCode, yesNo(v.Revoked))
		}
	})
}

// hashPattern is a token's stored id: a hex sha256.
var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (c *CLI) tokenRevoke(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("token revoke", "revoke a token: every request with it is refused (running instances notice within CACHE_TTL, 30 s by default)")
	token := f.fs.String("token", "", "the token to revoke")
	hash := f.fs.String("hash", "", "or: the token's sha256, as token create and token list print it")
	tenant := f.fs.String("tenant", "", "refuse unless the token belongs to this tenant")
	if err := f.parse(args, out); err != nil {
		return err
	}
	switch {
	case (*token == "") == (*hash == ""):
		return f.errorf("give exactly one of --token and --hash")
	case *hash != "" && !hashPattern.MatchString(*hash):
		return f.errorf("--hash: want the 64 lowercase hex digits of a sha256")
	}
	h := *hash
	if *token != "" {
		h = store.HashToken(*token)
	}
	st, done, err := c.open(ctx, f.project)
	if err != nil {
		return err
	}
	defer done()
	grant, err := st.Token(ctx, h)
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
		row(tw, "hash", v.Hash)
		row(tw, "tenant", v.Tenant)
		row(tw, "integration", v.Integration)
		row(tw, "revoked", yesNo(v.Revoked))
	})
}

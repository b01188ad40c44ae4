package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// The token is printed once, by token create, and Firestore holds only its
// sha256: nothing stored and nothing printed later contains it.
func TestTokenIsPrintedOnceAndStoredAsHash(t *testing.T) {
	e := newEnv(t)
	tenant, _ := e.setUp(t)
	out := e.must(t, "token", "create", "--tenant", tenant, "--integration", "erp", "--groups", "Sales, Support,", "--default-channel", "main", "--pending-code", "200")
	token := field(t, out, "token")
	id := field(t, out, "id")
	if !strings.HasPrefix(token, "tgw_"+id+"_") || domain.KeyIDOf(token) != id || strings.Count(out, token) != 1 {
		t.Fatalf("token create printed:\n%s", out)
	}
	hash := store.HashToken(token)
	if field(t, out, "hash") != hash || !strings.Contains(out, "shown only now") {
		t.Errorf("token create printed:\n%s", out)
	}

	snap, err := e.Firestore.Collection("tokens").Doc(hash).Get(context.Background())
	if err != nil {
		t.Fatalf("no token document under the hash: %v", err)
	}
	if s := fmt.Sprint(snap.Data()); strings.Contains(s, token) || strings.Contains(s, strings.TrimPrefix(token, "tgw_")) {
		t.Errorf("the token document holds the token: %s", s)
	}
	grant, err := e.Store.Token(context.Background(), hash)
	if err != nil || grant.Tenant != tenant || grant.Integration != "erp" || strings.Join(grant.Groups, "|") != "Sales|Support" ||
		grant.DefaultChannel != "main" || grant.PendingCode != http.StatusOK || grant.Revoked {
		t.Errorf("grant = %+v, %v", grant, err)
	}

	var list struct {
		Tokens []tokenOut `json:"tokens"`
	}
	listed := e.mustJSON(t, &list, "token", "list", "--tenant", tenant)
	if len(list.Tokens) != 2 || strings.Contains(listed, token) || !strings.Contains(listed, hash) {
		t.Errorf("token list:\n%s", listed)
	}
	for _, tk := range list.Tokens {
		if tk.Token != "" {
			t.Errorf("token list shows a token: %+v", tk)
		}
	}
	// The new token authenticates: the unknown template is what is refused.
	w := apptest.Call(t, e.atomHandler(), http.MethodPost, "/", token, `{"templateId":"x","phoneNumber":"5511987654321"}`)
	if w.Code != http.StatusBadRequest {
		t.Errorf("send with the new token: %d %s", w.Code, w.Body.String())
	}
}

// field is the value of a key/value table row.
func field(t *testing.T, out, key string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, key+" "); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("no %q row in:\n%s", key, out)
	return ""
}

// A revoked token is refused by the API from then on, whether it was
// revoked by the token or by its hash.
func TestRevokedTokenIsRefused(t *testing.T) {
	e := newEnv(t)
	tenant, byToken := e.setUp(t)
	var second tokenOut
	e.mustJSON(t, &second, "token", "create", "--tenant", tenant, "--integration", "erp")
	h := e.atomHandler()
	send := func(token string) int {
		return apptest.Call(t, h, http.MethodGet, "/", token, "").Code
	}
	if send(byToken) != http.StatusOK || send(second.Token) != http.StatusOK {
		t.Fatal("fresh tokens are refused")
	}

	// Another tenant's id guards against revoking the wrong token.
	if _, err := e.run("token", "revoke", "--token", byToken, "--tenant", "demo"); err == nil || !strings.Contains(err.Error(), "--tenant") {
		t.Errorf("revoke with the wrong tenant: %v", err)
	}
	if send(byToken) != http.StatusOK {
		t.Fatal("a refused revoke revoked the token")
	}

	var rv tokenOut
	out := e.mustJSON(t, &rv, "token", "revoke", "--token", byToken, "--tenant", tenant)
	if !rv.Revoked || rv.Hash != store.HashToken(byToken) || strings.Contains(out, byToken) {
		t.Errorf("revoke printed %s", out)
	}
	e.must(t, "token", "revoke", "--hash", second.Hash)
	for _, tok := range []string{byToken, second.Token} {
		w := apptest.Call(t, h, http.MethodPost, "/", tok, `{"templateId":"welcome","phoneNumber":"5511987654321"}`)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "incorrect token") {
			t.Errorf("send with a revoked token: %d %s", w.Code, w.Body.String())
		}
	}
	if n := e.docs(t, "tenants/"+tenant+"/messages"); n != 0 {
		t.Errorf("%d messages accepted with revoked tokens", n)
	}
	// Revoking again is harmless; an unknown token is an error.
	e.must(t, "token", "revoke", "--hash", second.Hash)
	if _, err := e.run("token", "revoke", "--token", "never-issued"); err == nil || !strings.Contains(err.Error(), "no such token") {
		t.Errorf("revoking an unknown token: %v", err)
	}
}

package admin_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/admin"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/messages"
)

// commandFlags are every command and flags its help must list.
var commandFlags = map[string][]string{
	"tenant create":      {"--id", "--name", "--country-code", "--conversation-limit", "--conversation-hours", "--callback-url", "--unknown-policy"},
	"tenant update":      {"--id", "--name", "--country-code", "--conversation-limit", "--conversation-hours", "--callback-url", "--unknown-policy"},
	"tenant list":        nil,
	"token create":       {"--tenant", "--integration", "--scopes", "--channels", "--expires", "--groups", "--default-channel", "--pending-code", "--callback-url"},
	"token list":         {"--tenant"},
	"token revoke":       {"--token", "--id", "--hash", "--tenant"},
	"channel add":        {"--tenant", "--id", "--display-number", "--phone-number-id", "--waba-id", "--secret-ref", "--default", "--mps", "--sender-code", "--country-code", "--connected"},
	"channel list":       {"--tenant"},
	"channel connect":    {"--tenant", "--id", "--dispatch-topic"},
	"channel disconnect": {"--tenant", "--id"},
	"templates sync":     {"--tenant", "--channel", "--meta-base-url", "--meta-api-version"},
	"templates list":     {"--tenant"},
	"contacts get":       {"--tenant", "--phone"},
	"contacts optout":    {"--tenant", "--phone"},
	"contacts optin":     {"--tenant", "--phone"},
	"batches list":       {"--tenant", "--limit", "--page-token"},
	"batches get":        {"--tenant", "--id"},
	"batches pause":      {"--tenant", "--id"},
	"batches resume":     {"--tenant", "--id", "--fanout-topic"},
	"batches cancel":     {"--tenant", "--id", "--fanout-topic"},
	"messages get":       {"--tenant", "--id"},
	"messages list":      {"--tenant", "--phone", "--status", "--limit", "--page-token"},
	"messages resolve":   {"--tenant", "--id", "--as", "--dispatch-topic"},
	"deadletters replay": {"--subscription", "--topic", "--max", "--wait"},
	"usage":              {"--tenant", "--month"},
}

func TestHelpOnEveryCommand(t *testing.T) {
	// No Firestore is needed for help: Open fails the test if called.
	cli := admin.New(admin.Options{Open: func(context.Context, string) (*firestore.Client, error) {
		t.Error("help opened Firestore")
		return nil, errors.New("no")
	}})
	groups := map[string]bool{}
	for path, want := range commandFlags {
		for _, help := range []string{"--help", "-h"} {
			var out bytes.Buffer
			if err := cli.Run(context.Background(), append(strings.Fields(path), help), &out); err != nil {
				t.Errorf("%s %s: %v", path, help, err)
			}
			for _, w := range append([]string{"usage: templategw " + path + " [flags]", "--project", "--json"}, want...) {
				if !strings.Contains(out.String(), w+" ") && !strings.Contains(out.String(), w+"\n") {
					t.Errorf("%s %s does not list %q:\n%s", path, help, w, out.String())
				}
			}
		}
		groups[strings.Fields(path)[0]] = true
	}
	for _, g := range cli.Groups() {
		if !groups[g.Name] {
			t.Errorf("group %s has no help test", g.Name)
		}
		var out bytes.Buffer
		if err := cli.Run(context.Background(), []string{g.Name, "--help"}, &out); err != nil {
			t.Errorf("%s --help: %v", g.Name, err)
		}
		for path := range commandFlags {
			if sub, ok := strings.CutPrefix(path, g.Name+" "); ok && !regexp.MustCompile(`(?m)^  `+sub+` `).MatchString(out.String()) {
				t.Errorf("%s --help does not list %s:\n%s", g.Name, sub, out.String())
			}
		}
	}
	if len(groups) != len(cli.Groups()) {
		t.Errorf("help tested for %d groups, the CLI has %d", len(groups), len(cli.Groups()))
	}
}

// Every bad command fails naming the flag at fault, and writes nothing.
func TestBadInputWritesNothing(t *testing.T) {
	e := newEnv(t)
	tenant, _ := e.setUp(t)
	before := e.snapshot(t, tenant)
	ch := []string{"channel", "add", "--tenant", tenant, "--id", "second", "--display-number", "5511988883333",
		"--phone-number-id", "300000000000009", "--waba-id", wabaID, "--secret-ref", "env:X"}
	with := func(args []string, more ...string) []string { return append(append([]string{}, args...), more...) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, `unknown command group "nope"`},
		{[]string{"tenant"}, "missing command, one of create, update, list"},
		{[]string{"tenant", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"tenant", "create"}, "--name is required"},
		{[]string{"tenant", "create", "--name", "A", "--bogus"}, "flag provided but not defined: --bogus"},
		{[]string{"tenant", "create", "--name", "A", "extra"}, `unexpected argument "extra"`},
		{[]string{"tenant", "create", "--name", "A", "--id", "a/b"}, "--id"},
		{[]string{"tenant", "create", "--name", "A", "--id", tenant}, "--id: tenant " + tenant + " already exists"},
		{[]string{"tenant", "create", "--name", "A", "--country-code", "+55"}, "--country-code"},
		{[]string{"tenant", "create", "--name", "A", "--conversation-limit", "-1"}, "--conversation-limit"},
		{[]string{"tenant", "create", "--name", "A", "--conversation-limit", "lots"}, "--conversation-limit"},
		{[]string{"tenant", "create", "--name", "A", "--callback-url", "https://user:pw@hooks.example.com/x"}, "--callback-url: callback: invalid URL: userinfo"},
		{[]string{"tenant", "create", "--name", "A", "--callback-url", "http://127.0.0.1:9/x"}, "--callback-url: callback: address refused"},
		{[]string{"tenant", "create", "--name", "A", "--callback-url", "ftp://hooks.example.com"}, "--callback-url"},
		{[]string{"tenant", "create", "--name", "A", "--conversation-hours", "-1"}, "--conversation-hours -1: want 1 to 744, or 0 for 24"},
		{[]string{"tenant", "create", "--name", "A", "--conversation-hours", "745"}, "--conversation-hours 745"},
		{[]string{"tenant", "create", "--name", "A", "--unknown-policy", "never"}, `--unknown-policy "never": want resend or hold`},
		{[]string{"tenant", "update", "--name", "A"}, "--id is required"},
		{[]string{"tenant", "update", "--id", tenant, "--unknown-policy", "Hold"}, "--unknown-policy"},
		{[]string{"tenant", "update", "--id", tenant}, "nothing to change: give at least one of --name, --country-code, --conversation-limit, --conversation-hours, --callback-url, --unknown-policy"},
		{[]string{"tenant", "update", "--id", "nope", "--conversation-limit", "5"}, "--id: no tenant nope"},
		{[]string{"tenant", "update", "--id", "a/b", "--conversation-limit", "5"}, "--id: no tenant a/b"},
		{[]string{"tenant", "update", "--id", tenant, "--name", " "}, "--name: must not be blank"},
		{[]string{"tenant", "update", "--id", tenant, "--country-code", "+55"}, "--country-code"},
		{[]string{"tenant", "update", "--id", tenant, "--conversation-limit", "-1"}, "--conversation-limit"},
		{[]string{"tenant", "update", "--id", tenant, "--conversation-hours", "745"}, "--conversation-hours 745"},
		{[]string{"tenant", "update", "--id", tenant, "--callback-url", "https://user:pw@hooks.example.com/x"}, "--callback-url: callback: invalid URL: userinfo"},
		{[]string{"tenant", "update", "--id", tenant, "--callback-url", "http://127.0.0.1:9/x"}, "--callback-url: callback: address refused"},
		// One bad value refuses the good ones given with it.
		{[]string{"tenant", "update", "--id", tenant, "--conversation-limit", "9", "--conversation-hours", "1000"}, "--conversation-hours 1000"},
		{[]string{"token", "create", "--tenant", tenant}, "--integration is required"},
		{[]string{"token", "create", "--tenant", "nope", "--integration", "a"}, "--tenant: no tenant nope"},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--pending-code", "201"}, "--pending-code"},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--default-channel", "nope"}, "--default-channel"},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--callback-url", "http://10.0.0.1/"}, "--callback-url"},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--scopes", "send,write"}, "--scopes: unknown scope write"},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--scopes", ","}, "--scopes: name at least one"},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--channels", "main,nope"}, "--channels: "},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--channels", "main", "--default-channel", "other"}, "--default-channel: other is not one of --channels"},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--expires", "0d"}, "--expires"},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--expires", "-1h"}, "--expires: \"-1h\" is not in the future"},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--expires", "2020-01-01"}, "--expires"},
		{[]string{"token", "create", "--tenant", tenant, "--integration", "a", "--expires", "soon"}, "--expires"},
		{[]string{"token", "revoke"}, "exactly one of --token, --id and --hash"},
		{[]string{"token", "revoke", "--token", "a", "--hash", "b"}, "exactly one of --token, --id and --hash"},
		{[]string{"token", "revoke", "--hash", "ABC"}, "--hash"},
		{[]string{"token", "revoke", "--id", "tgw_ABC"}, "--id"},
		{[]string{"token", "revoke", "--id", "abcdefghij"}, "no such token"},
		{[]string{"channel", "add", "--tenant", tenant}, "--id, --display-number, --phone-number-id, --waba-id, --secret-ref are required"},
		{with(ch, "--mps", "0"), "--mps 0: want 1 to 1000"},
		{with(ch, "--mps", "1001"), "--mps 1001: want 1 to 1000"},
		{with(ch, "--secret-ref", "META_TOKEN"), "--secret-ref"},
		{with(ch, "--secret-ref", "env:1BAD"), "--secret-ref"},
		{with(ch, "--display-number", "+5511988883333"), "--display-number"},
		{with(ch, "--phone-number-id", "abc"), "--phone-number-id"},
		{with(ch, "--country-code", "5555"), "--country-code"},
		{with(ch, "--id", "main"), "--id: tenant " + tenant + " already has channel main"},
		{with(ch, "--display-number", displayNumber), "--display-number: channel main already has it"},
		{with(ch, "--phone-number-id", phoneNumberID), "--phone-number-id"},
		{with(ch, "--phone-number-id", demo.PhoneNumberID), "--phone-number-id"}, // another tenant's number
		{with(ch, "--tenant", "nope"), "--tenant: no tenant nope"},
		{[]string{"channel", "connect", "--tenant", tenant, "--id", "nope"}, "--id"},
		{[]string{"channel", "disconnect", "--tenant", tenant}, "--id is required"},
		{[]string{"templates", "sync", "--tenant", "nope"}, "--tenant: no tenant nope"},
		{[]string{"messages", "get", "--tenant", tenant, "--id", "nope"}, "--id: tenant " + tenant + " has no message nope"},
		{[]string{"messages", "list", "--tenant", tenant, "--status", "bogus"}, "--status"},
		{[]string{"messages", "list", "--tenant", tenant, "--phone", "+5511987654321"}, "--phone"},
		{[]string{"messages", "list", "--tenant", tenant, "--limit", "0"}, "--limit"},
		{[]string{"messages", "list", "--tenant", tenant, "--page-token", "garbage!"}, "--page-token"},
		{[]string{"messages", "resolve", "--tenant", tenant, "--id", "x"}, "--as is required"},
		{[]string{"messages", "resolve", "--tenant", tenant, "--id", "x", "--as", "read"}, `--as "read" is not sent, failed or resend`},
		{[]string{"messages", "resolve", "--tenant", tenant, "--id", "nope", "--as", "sent"}, "--id: tenant " + tenant + " has no message nope"},
		{[]string{"messages", "resolve", "--tenant", "nope", "--id", "x", "--as", "sent"}, "--tenant: no tenant nope"},
		{[]string{"deadletters", "replay"}, "--subscription is required"},
		{[]string{"deadletters", "replay", "--subscription", "dispatch-dead-keep", "--max", "-1"}, "--max -1"},
		{[]string{"deadletters", "replay", "--subscription", "dispatch-dead-keep", "--wait", "0s"}, "--wait 0s"},
		{[]string{"deadletters", "replay", "--subscription", "nope"}, "--subscription: project"},
	} {
		out, err := e.run(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error with %q", tc.args, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "pw@") || out != "" {
			t.Errorf("%q: error %q, output %q", tc.args, err, out)
		}
	}
	if after := e.snapshot(t, tenant); after != before {
		t.Errorf("bad commands changed the data:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot renders what the admin commands write, to compare.
func (e *env) snapshot(t *testing.T, tenant string) string {
	t.Helper()
	var b strings.Builder
	for _, path := range []string{"tenants", "tokens", "phoneNumbers", "tenants/" + tenant + "/channels", "tenants/" + tenant + "/templates"} {
		docs, err := e.Firestore.Collection(path).Documents(context.Background()).GetAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			b.WriteString(d.Ref.Path + "@" + d.UpdateTime.String() + ";")
		}
	}
	return b.String()
}

func TestProjectIsRequired(t *testing.T) {
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	var out bytes.Buffer
	err := admin.New(admin.Options{}).Run(context.Background(), []string{"tenant", "list"}, &out)
	if err == nil || !strings.Contains(err.Error(), "--project is required") {
		t.Errorf("without a project: %v", err)
	}
	t.Setenv("GOOGLE_CLOUD_PROJECT", "from-env")
	var opened string
	cli := admin.New(admin.Options{Open: func(_ context.Context, p string) (*firestore.Client, error) {
		opened = p
		return nil, errors.New("stop here")
	}})
	if err := cli.Run(context.Background(), []string{"tenant", "list"}, &out); err == nil || opened != "from-env" {
		t.Errorf("GOOGLE_CLOUD_PROJECT: opened %q, %v", opened, err)
	}
}

func TestTenantOutput(t *testing.T) {
	e := newEnv(t)
	var tn tenantOut
	raw := e.mustJSON(t, &tn, "tenant", "create", "--id", "acme", "--name", "Acme", "--country-code", "55",
		"--conversation-limit", "1000", "--conversation-hours", "48", "--callback-url", "https://hooks.example.com/tgw?key=abc")
	if tn.ID != "acme" || tn.Name != "Acme" || tn.CountryCode != "55" || tn.ConversationLimit != 1000 || tn.ConversationHours != 48 || !tn.CallbackURLSet ||
		tn.CallbackHost != "https://hooks.example.com" || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tn.CallbackSecret) {
		t.Fatalf("tenant create --json: %s", raw)
	}
	if strings.Contains(raw, "key=abc") {
		t.Errorf("the callback URL's query is printed: %s", raw)
	}
	stored, err := e.Store.Tenant(context.Background(), "acme")
	if err != nil || stored.CallbackSecret != tn.CallbackSecret || stored.CallbackURL != "https://hooks.example.com/tgw?key=abc" || stored.ConversationHours != 48 {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	// Without --id the id is random, and a tenant without a callback URL
	// still has a secret for one set later.
	table := e.must(t, "tenant", "create", "--name", "Beta Ltd")
	id, secret := field(t, table, "tenant"), field(t, table, "callback secret")
	if len(id) < 20 || len(secret) != 64 || field(t, table, "callback url") != "not set" || field(t, table, "conversation limit") != "unlimited" ||
		field(t, table, "conversation hours") != "24" {
		t.Errorf("tenant create:\n%s", table)
	}

	var list struct {
		Tenants []tenantOut `json:"tenants"`
	}
	raw = e.mustJSON(t, &list, "tenant", "list")
	var ids []string
	for _, v := range list.Tenants {
		ids = append(ids, v.ID)
	}
	if want := []string{"acme", demo.TenantID, id}; !sameSet(ids, want) || !sort.StringsAreSorted(ids) {
		t.Errorf("tenant list ids %q, want %q by id", ids, want)
	}
	if strings.Contains(raw, tn.CallbackSecret) || strings.Contains(raw, secret) || strings.Contains(raw, "key=abc") || strings.Contains(raw, "callbackSecret") {
		t.Errorf("tenant list --json: %s", raw)
	}
	table = e.must(t, "tenant", "list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^ID +NAME +COUNTRY +LIMIT +HOURS +RATE +CALLBACK$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`(?m)^acme +Acme +55 +1000 +48 +default +set \(https://hooks.example.com\)$`).MatchString(table) ||
		!regexp.MustCompile(`(?m)^`+id+` +Beta Ltd +- +unlimited +24 +default +not set$`).MatchString(table) {
		t.Errorf("tenant list:\n%s", table)
	}
	// Columns line up: every row's second column starts where NAME does.
	col := strings.Index(lines[0], "NAME")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("row %q is not aligned under NAME at %d", l, col)
		}
	}
}

func TestChannelCommands(t *testing.T) {
	e := newEnv(t)
	tenant, token := e.setUp(t)
	var added map[string]any
	e.mustJSON(t, &added, "channel", "add", "--tenant", tenant, "--id", "second", "--display-number", "5511988884444",
		"--phone-number-id", "300000000000004", "--waba-id", wabaID, "--secret-ref", "env:"+tokenEnv, "--mps", "250",
		"--sender-code", "S2", "--country-code", "55", "--default")
	if added["id"] != "second" || added["secretRef"] != "env:"+tokenEnv || added["messagesPerSecond"] != 250.0 || added["default"] != true || added["connected"] != true {
		t.Errorf("channel add --json: %v", added)
	}
	var list struct {
		Channels []map[string]any `json:"channels"`
	}
	e.mustJSON(t, &list, "channel", "list", "--tenant", tenant)
	defaults := map[string]bool{}
	for _, c := range list.Channels {
		defaults[c["id"].(string)] = c["default"].(bool)
	}
	if len(list.Channels) != 2 || !defaults["second"] || defaults["main"] {
		t.Errorf("after adding a default channel: %v", list.Channels)
	}
	if l, err := e.Store.Line(context.Background(), "300000000000004"); err != nil || l.Tenant != tenant || l.Channel != "second" {
		t.Errorf("phone number index: %+v, %v", l, err)
	}

	// A disconnected default channel refuses sends; connect brings it back.
	send := func() int {
		return apptest.Call(t, e.atomHandler(), http.MethodPost, "/", token, `{"templateId":"none","phoneNumber":"5511987654321"}`).Code
	}
	out := e.must(t, "channel", "disconnect", "--tenant", tenant, "--id", "second")
	if !regexp.MustCompile(`(?m)^second +5511988884444 +300000000000004 +` + wabaID + ` +no +yes +250 +S2 +env:` + tokenEnv + ` +-$`).MatchString(out) {
		t.Errorf("channel disconnect:\n%s", out)
	}
	if got := send(); got != http.StatusUnauthorized {
		t.Errorf("send through a disconnected channel: %d, want 401", got)
	}
	e.must(t, "channel", "connect", "--tenant", tenant, "--id", "second")
	if got := send(); got != http.StatusBadRequest { // connected: the unknown template is what is refused
		t.Errorf("send after connect: %d, want 400", got)
	}
	var disconnected map[string]any
	e.mustJSON(t, &disconnected, "channel", "add", "--tenant", tenant, "--id", "third", "--display-number", "5511988885555",
		"--phone-number-id", "300000000000005", "--waba-id", wabaID, "--secret-ref", "env:"+tokenEnv, "--connected=false")
	if disconnected["connected"] != false || disconnected["default"] != false || disconnected["messagesPerSecond"] != 80.0 {
		t.Errorf("channel add --connected=false: %v", disconnected)
	}
}

func TestMessagesList(t *testing.T) {
	e := newEnv(t)
	h := e.atomHandler()
	for _, phone := range []string{"5511987650001", "5511987650002", "5511987650002"} {
		w := apptest.Call(t, h, http.MethodPost, "/", apptest.Token, `{"templateId":"welcome","phoneNumber":"`+phone+`","params":{"1":"Ana","2":"X"}}`)
		if w.Code != http.StatusAccepted {
			t.Fatalf("send: %d %s", w.Code, w.Body.String())
		}
	}
	type page struct {
		Messages      []messages.View `json:"messages"`
		NextPageToken string          `json:"nextPageToken"`
	}
	var all page
	raw := e.mustJSON(t, &all, "messages", "list", "--tenant", demo.TenantID, "--phone", "5511987650002", "--status", "accepted")
	if len(all.Messages) != 2 || all.NextPageToken != "" || strings.Contains(raw, "5511987650002") {
		t.Fatalf("messages list --phone: %s", raw)
	}
	for _, m := range all.Messages {
		if m.PhoneNumber != "*********0002" || m.Status != "accepted" || m.TemplateID != "welcome" {
			t.Errorf("message %+v", m)
		}
	}
	var first, second page
	e.mustJSON(t, &first, "messages", "list", "--tenant", demo.TenantID, "--limit", "2")
	e.mustJSON(t, &second, "messages", "list", "--tenant", demo.TenantID, "--limit", "2", "--page-token", first.NextPageToken)
	if len(first.Messages) != 2 || first.NextPageToken == "" || len(second.Messages) != 1 || second.NextPageToken != "" ||
		!first.Messages[0].CreatedAt.After(second.Messages[0].CreatedAt) {
		t.Errorf("pages: %+v then %+v", first, second)
	}
	table := e.must(t, "messages", "list", "--tenant", demo.TenantID, "--limit", "2")
	if !strings.Contains(table, "More: --page-token "+first.NextPageToken) || !strings.Contains(table, "*********000") ||
		strings.Contains(table, "551198765000") || !strings.HasPrefix(table, "ID ") {
		t.Errorf("messages list:\n%s", table)
	}
}

func sameSet(a, b []string) bool {
	x, y := append([]string{}, a...), append([]string{}, b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, ",") == strings.Join(y, ",")
}

// TestContactsOptOut: an operator opts a contact out and back in; the
// output masks the number.
func TestContactsOptOut(t *testing.T) {
	e := newEnv(t)
	var v struct {
		Phone     string `json:"phone"`
		Name      string `json:"name"`
		Marketing struct {
			Out    bool      `json:"optedOut"`
			At     time.Time `json:"at"`
			Source string    `json:"source"`
		} `json:"marketing"`
	}
	raw := e.mustJSON(t, &v, "contacts", "optout", "--tenant", demo.TenantID, "--phone", "5511987650077")
	if !v.Marketing.Out || v.Marketing.Source != "operator" || strings.Contains(raw, "5511987650077") {
		t.Fatalf("optout: %s", raw)
	}
	e.mustJSON(t, &v, "contacts", "get", "--tenant", demo.TenantID, "--phone", "5511987650077")
	if !v.Marketing.Out {
		t.Errorf("get after optout: %+v", v)
	}
	e.mustJSON(t, &v, "contacts", "optin", "--tenant", demo.TenantID, "--phone", "5511987650077")
	if v.Marketing.Out {
		t.Errorf("optin: %+v", v)
	}
}

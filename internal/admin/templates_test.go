package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

// A second sync changes only what Meta changed, keeps every id, and gives
// a new language of a known name an id of its own.
func TestResyncKeepsIDs(t *testing.T) {
	e := newEnv(t)
	tenant, token := e.setUp(t)
	first := newMeta(t, wabaTemplates())
	e.must(t, "templates", "sync", "--tenant", tenant, "--meta-base-url", first.URL)

	changed := wabaTemplates()
	for i := range changed {
		if changed[i].Name == "awaiting_review" {
			changed[i].Status = domain.TemplateApproved // Meta approved it
		}
	}
	changed = append(changed, domain.Template{Name: "welcome", Language: "en_US", Category: "UTILITY", Status: domain.TemplateApproved,
		ParameterFormat: "POSITIONAL", Components: []domain.TemplateComponent{{Type: "BODY", Text: "Hi {{1}}, welcome to {{2}}!"}}})
	second := newMeta(t, changed)
	var rep syncOut
	e.mustJSON(t, &rep, "templates", "sync", "--tenant", tenant, "--channel", "main", "--meta-base-url", second.URL)
	if rep.Added != 1 || rep.Updated != 1 || rep.Unchanged != 119 || strings.Join(rep.NotApproved, ",") != "refused_one" {
		t.Fatalf("resync = added %d updated %d unchanged %d notApproved %q", rep.Added, rep.Updated, rep.Unchanged, rep.NotApproved)
	}
	byID := rep.byID()
	if byID["awaiting_review"].Change != "updated" || byID["welcome_en_US"].Change != "added" || byID["welcome"].Language != "pt_BR" {
		t.Errorf("awaiting_review %+v, welcome_en_US %+v, welcome %+v", byID["awaiting_review"], byID["welcome_en_US"], byID["welcome"])
	}

	// The newly approved template sends now.
	w := apptest.Call(t, e.atomHandler(), http.MethodPost, "/", token, `{"templateId":"awaiting_review","phoneNumber":"5511987654321","params":{"1":"A-1"}}`)
	if w.Code != http.StatusAccepted {
		t.Errorf("send of the approved template: %d %s", w.Code, w.Body.String())
	}

	table := e.must(t, "templates", "list", "--tenant", tenant)
	if !strings.Contains(table, "welcome_en_US") || !strings.Contains(table, "PARAMS") || strings.Count(table, "\n") != 122 {
		t.Errorf("templates list (%d lines):\n%s", strings.Count(table, "\n"), table)
	}
}

// Syncing the demo channel from the sandbox the dev stack runs leaves the
// demo's templates, and their ids, as they are.
func TestSyncOfTheDemoKeepsItsIDs(t *testing.T) {
	e := newEnv(t)
	srvURL := e.SandboxURL // apptest's sandbox is sandbox.Default(): the demo WABA
	var rep syncOut
	e.mustJSON(t, &rep, "templates", "sync", "--tenant", demo.TenantID, "--meta-base-url", srvURL)
	if rep.Added != 0 || rep.Updated != 0 || rep.Unchanged != len(demo.Templates()) {
		t.Fatalf("demo sync = %+v", rep)
	}
	for _, want := range demo.Templates() {
		got, err := e.Store.Template(context.Background(), demo.TenantID, want.ID)
		if err != nil || got.Namespace != want.Namespace || got.Status != want.Status {
			t.Errorf("%s after sync: %+v, %v", want.ID, got, err)
		}
	}
	table := e.must(t, "templates", "sync", "--tenant", demo.TenantID, "--meta-base-url", srvURL)
	if !strings.Contains(table, "5 templates from WABA "+demo.WABAID+" (channel main): 0 added, 0 updated, 5 unchanged.") ||
		strings.Contains(table, "Not APPROVED") {
		t.Errorf("table:\n%s", table)
	}
}

func TestSyncFailuresWriteNothing(t *testing.T) {
	e := newEnv(t)
	m := newMeta(t, wabaTemplates())
	tenant, _ := e.setUp(t)
	// A second channel on the same WABA, whose secret is not set here, and
	// a third whose token Meta refuses.
	e.must(t, "channel", "add", "--tenant", tenant, "--id", "unset", "--display-number", "5511988881111",
		"--phone-number-id", "300000000000002", "--waba-id", wabaID, "--secret-ref", "env:TEMPLATEGW_CLI_TEST_UNSET")
	t.Setenv("TEMPLATEGW_CLI_TEST_WRONG", "not-the-token")
	e.must(t, "channel", "add", "--tenant", tenant, "--id", "wrong", "--display-number", "5511988882222",
		"--phone-number-id", "300000000000003", "--waba-id", wabaID, "--secret-ref", "env:TEMPLATEGW_CLI_TEST_WRONG")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--channel", "nope"}, "--channel: tenant " + tenant + " has no channel nope"},
		{[]string{"--channel", "unset"}, "TEMPLATEGW_CLI_TEST_UNSET is not set"},
		{[]string{"--channel", "wrong"}, "meta error 190"},
		{[]string{"--meta-base-url", "ftp://x"}, "--meta-base-url"},
	} {
		args := append([]string{"templates", "sync", "--tenant", tenant, "--meta-base-url", m.URL}, tc.args...)
		_, err := e.run(args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "not-the-token") {
			t.Errorf("the error shows the access token: %v", err)
		}
	}
	if n := e.docs(t, "tenants/"+tenant+"/templates"); n != 0 {
		t.Errorf("%d templates written by failed syncs", n)
	}
	// With two more channels and still one default, sync picks the default.
	var rep syncOut
	e.mustJSON(t, &rep, "templates", "sync", "--tenant", tenant, "--meta-base-url", m.URL)
	if rep.Channel != "main" || rep.Added != 120 {
		t.Errorf("default channel sync: %s, %d added", rep.Channel, rep.Added)
	}
}

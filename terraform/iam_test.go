package terraform

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// access is what one function's service account is granted, as the
// least-privilege table of docs/deploy.md states it.
type access struct {
	firestore string   // "read/write" (roles/datastore.user) or "read" (roles/datastore.viewer)
	publishes []string // topic names
	secrets   []string // secret resources; "channel.*" is every channel access token
}

func (a access) String() string {
	return fmt.Sprintf("Firestore %q, publishes %q, secrets %q", a.firestore, a.publishes, a.secrets)
}

// grants reads every IAM grant the Terraform gives a function's service
// account, and fails on any it does not know (a role the table has no
// column for is wider than the functions need).
func grants(files map[string][]byte) (map[string]access, error) {
	p := hclparse.NewParser()
	var blocks []*hclsyntax.Block
	for _, name := range sortedKeys(files) {
		f, diags := p.ParseHCL(files[name], name)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %w", name, diags)
		}
		blocks = append(blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	topics := map[string]string{}   // resource → topic name
	accounts := map[string]string{} // service account resource → function
	for _, b := range blocks {
		if b.Type != "resource" || len(b.Labels) != 2 {
			continue
		}
		switch b.Labels[0] {
		case "google_pubsub_topic":
			name, err := literal(b.Body, "name")
			if err != nil {
				return nil, err
			}
			topics[b.Labels[1]] = name
		case "google_cloudfunctions2_function":
			for _, sc := range b.Body.Blocks {
				if attr, ok := sc.Body.Attributes["service_account_email"]; ok && sc.Type == "service_config" {
					acct, err := refersTo(attr.Expr, "google_service_account")
					if err != nil {
						return nil, fmt.Errorf("function %s: %w", b.Labels[1], err)
					}
					accounts[acct] = b.Labels[1]
				}
			}
		}
	}
	out := map[string]access{}
	for fn := range valueSet(accounts) {
		out[fn] = access{}
	}
	var errs []error
	for _, b := range blocks {
		if b.Type != "resource" || len(b.Labels) != 2 || !strings.HasSuffix(b.Labels[0], "_iam_member") {
			continue
		}
		attr, ok := b.Body.Attributes["member"]
		if !ok {
			continue
		}
		acct, err := refersTo(attr.Expr, "google_service_account")
		fn, isFunction := accounts[acct]
		if err != nil || !isFunction {
			continue // Pub/Sub's agent, the push identities, allUsers
		}
		role, err := literal(b.Body, "role")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Labels[1], err)
		}
		a := out[fn]
		where := b.Labels[0] + "." + b.Labels[1]
		switch {
		case b.Labels[0] == "google_project_iam_member" && (role == "roles/datastore.user" || role == "roles/datastore.viewer"):
			if !heldToTheDatabase(b.Body) {
				errs = append(errs, fmt.Errorf("%s: Firestore granted without the database condition", where))
			}
			if a.firestore != "" {
				errs = append(errs, fmt.Errorf("%s: a second Firestore grant for %s", where, fn))
			}
			a.firestore = map[string]string{"roles/datastore.user": "read/write", "roles/datastore.viewer": "read"}[role]
		case b.Labels[0] == "google_pubsub_topic_iam_member" && role == "roles/pubsub.publisher":
			topic, err := refersTo(b.Body.Attributes["topic"].Expr, "google_pubsub_topic")
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			a.publishes = append(a.publishes, topics[topic])
		case b.Labels[0] == "google_secret_manager_secret_iam_member" && role == "roles/secretmanager.secretAccessor":
			secret, err := secretOf(b.Body)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			a.secrets = append(a.secrets, secret)
		default:
			errs = append(errs, fmt.Errorf("%s: %s gets %s, which the least-privilege table has no place for", where, fn, role))
		}
		out[fn] = a
	}
	for fn, a := range out {
		slices.Sort(a.publishes)
		slices.Sort(a.secrets)
		out[fn] = a
	}
	return out, errors.Join(errs...)
}

func valueSet(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range m {
		out[v] = true
	}
	return out
}

// heldToTheDatabase reports whether a grant carries the condition that
// limits it to the gateway's database.
func heldToTheDatabase(body *hclsyntax.Body) bool {
	for _, c := range body.Blocks {
		if c.Type != "condition" {
			continue
		}
		attr, ok := c.Body.Attributes["expression"]
		if !ok {
			return false
		}
		for _, v := range attr.Expr.Variables() {
			if v.RootName() == "local" && len(v) > 1 {
				if a, ok := v[1].(hcl.TraverseAttr); ok && a.Name == "firestore_database_only" {
					return true
				}
			}
		}
	}
	return false
}

// secretOf is the secret resource a grant names; a grant over each of a
// for_each's secrets is "NAME.*".
func secretOf(body *hclsyntax.Body) (string, error) {
	attr, ok := body.Attributes["secret_id"]
	if !ok {
		return "", errors.New("no secret_id")
	}
	if s, err := refersTo(attr.Expr, "google_secret_manager_secret"); err == nil {
		return s, nil
	}
	each, ok := body.Attributes["for_each"]
	if !ok {
		return "", errors.New("secret_id names no secret")
	}
	s, err := refersTo(each.Expr, "google_secret_manager_secret")
	return s + ".*", err
}

// stated reads docs/deploy.md's least-privilege table: one row per
// function, `name` | Firestore | collections | publishes to | secrets.
func stated(doc string) (map[string]access, error) {
	out := map[string]access{}
	for line := range strings.Lines(doc) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) != 7 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		fn := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if _, dup := out[fn]; dup {
			return nil, fmt.Errorf("function %s has two rows", fn)
		}
		out[fn] = access{firestore: strings.TrimSpace(cells[2]), publishes: codeSpans(cells[4]), secrets: codeSpans(cells[5])}
	}
	if len(out) == 0 {
		return nil, errors.New("no least-privilege table")
	}
	return out, nil
}

// codeSpans lists the `quoted` names of a cell, sorted.
func codeSpans(cell string) []string {
	var out []string
	parts := strings.Split(cell, "`")
	for i := 1; i < len(parts); i += 2 {
		out = append(out, parts[i])
	}
	slices.Sort(out)
	return out
}

// Every function's service account gets what docs/deploy.md states and
// nothing more: Firestore only on the gateway's database, read-only where
// the function writes nothing, publisher on the topics it publishes to,
// accessor on the secrets it reads.
func TestGrantsAreWhatTheDeployGuideStates(t *testing.T) {
	files, err := readTerraform(".")
	if err != nil {
		t.Fatal(err)
	}
	got, err := grants(files)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := stated(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range sortedKeys(got) {
		w, ok := want[fn]
		if !ok {
			t.Errorf("docs/deploy.md has no row for %s, which is granted %v", fn, got[fn])
			continue
		}
		if g := got[fn]; g.firestore != w.firestore || !slices.Equal(g.publishes, w.publishes) || !slices.Equal(g.secrets, w.secrets) {
			t.Errorf("%s: Terraform grants %v; docs/deploy.md states %v", fn, g, w)
		}
	}
	for fn := range want {
		if _, ok := got[fn]; !ok {
			t.Errorf("docs/deploy.md states the grants of %s, which Terraform does not deploy", fn)
		}
	}
}

// The checks catch a grant wider than stated: a project role beyond
// Firestore, and Firestore without the database condition.
func TestGrantChecksCatchWiderGrants(t *testing.T) {
	base := `
resource "google_service_account" "a" {}
resource "google_cloudfunctions2_function" "a" {
  service_config {
    service_account_email = google_service_account.a.email
  }
}
`
	for name, tf := range map[string]string{
		"editor": `resource "google_project_iam_member" "x" {
  role   = "roles/editor"
  member = google_service_account.a.member
}`,
		"unconditioned": `resource "google_project_iam_member" "x" {
  role   = "roles/datastore.user"
  member = google_service_account.a.member
}`,
		"subscriber": `resource "google_pubsub_subscription_iam_member" "x" {
  role   = "roles/pubsub.subscriber"
  member = google_service_account.a.member
}`,
	} {
		if _, err := grants(map[string][]byte{"a.tf": []byte(base + tf)}); err == nil {
			t.Errorf("%s: not caught", name)
		}
	}
	ok := `resource "google_project_iam_member" "x" {
  role   = "roles/datastore.viewer"
  member = google_service_account.a.member
  condition {
    expression = local.firestore_database_only.expression
  }
}`
	g, err := grants(map[string][]byte{"a.tf": []byte(base + ok)})
	if err != nil || g["a"].firestore != "read" {
		t.Errorf("a conditioned viewer: %v, %v", g, err)
	}
}

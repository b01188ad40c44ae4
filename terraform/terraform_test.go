// Package terraform holds the deployment's Terraform and the tests that
// keep it in step with the code: every function of internal/app's table
// deployed, each CloudEvent function pushed from the topic the table names,
// every configuration variable set on every function with config's own
// defaults, every file formatted as terraform fmt would format it.
package terraform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/sethvargo/go-envconfig"
	"github.com/zclconf/go-cty/cty"

	"github.com/templategw/templategw/internal/app"
	"github.com/templategw/templategw/internal/config"
)

// envVars returns every variable envconfig reads into a value of type t:
// the key of each `env` tag, nested structs followed (with their
// prefix=), the way envconfig.Process walks them.
func envVars(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		key, opts, _ := strings.Cut(f.Tag.Get("env"), ",")
		key = strings.TrimSpace(key)
		if key != "" {
			out = append(out, prefix+key)
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct || ft == reflect.TypeFor[time.Time]() {
			continue
		}
		nested := prefix
		for _, o := range strings.Split(opts, ",") {
			o = strings.TrimSpace(o)
			if strings.HasPrefix(o, "default=") {
				break // a default's value may hold commas
			}
			if p, ok := strings.CutPrefix(o, "prefix="); ok {
				nested += p
			}
		}
		out = append(out, envVars(ft, nested)...)
	}
	return out
}

// deployed is one google_cloudfunctions2_function as far as these checks
// go.
type deployed struct {
	resource   string
	entryPoint string
	// env holds the plain variables' value expressions, and the
	// secret-backed variables with a nil one.
	env map[string]hclsyntax.Expression
}

// subscription is a push subscription: the resources its topic, dead-letter
// topic and push endpoint refer to.
type subscription struct {
	resource   string
	topic      string // google_pubsub_topic label
	deadLetter string // google_pubsub_topic label, "" without a policy
	pushesTo   string // google_cloudfunctions2_function label
}

// module is the Terraform of one directory, read without evaluating it.
type module struct {
	locals        map[string]hclsyntax.Expression
	functions     []deployed
	topics        map[string]string // label: name
	subscriptions []subscription
	defaults      map[string]cty.Value // variable: its default, when it has one
}

// parseModule reads Terraform sources keyed by file name. Function
// environments are resolved statically: object literals, merge() of them
// and references to locals; anything else is an error, so a check can
// never pass by failing to look. So are topic names and the references of
// push subscriptions.
func parseModule(files map[string][]byte) (*module, error) {
	m := &module{locals: map[string]hclsyntax.Expression{}, topics: map[string]string{}, defaults: map[string]cty.Value{}}
	p := hclparse.NewParser()
	var bodies []*hclsyntax.Body
	var errs []error
	for _, name := range sortedKeys(files) {
		f, diags := p.ParseHCL(files[name], name)
		if diags.HasErrors() {
			errs = append(errs, fmt.Errorf("parse %s: %w", name, diags))
			continue
		}
		body := f.Body.(*hclsyntax.Body)
		bodies = append(bodies, body)
		for _, b := range body.Blocks {
			if b.Type == "locals" {
				for name, attr := range b.Body.Attributes {
					m.locals[name] = attr.Expr
				}
			}
		}
	}
	for _, body := range bodies {
		for _, b := range body.Blocks {
			if err := m.block(b); err != nil {
				where := strings.Join(b.Labels, ".")
				if b.Type != "resource" {
					where = b.Type + "." + where
				}
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
		}
	}
	return m, errors.Join(errs...)
}

// block records one top-level block, if it is one the checks read.
func (m *module) block(b *hclsyntax.Block) error {
	switch {
	case b.Type == "variable" && len(b.Labels) == 1:
		attr, ok := b.Body.Attributes["default"]
		if !ok {
			return nil
		}
		v, diags := attr.Expr.Value(&hcl.EvalContext{})
		if diags.HasErrors() {
			return fmt.Errorf("default is not a literal: %w", diags)
		}
		if !v.IsNull() {
			m.defaults[b.Labels[0]] = v
		}
	case b.Type != "resource" || len(b.Labels) != 2:
	case b.Labels[0] == "google_cloudfunctions2_function":
		fn, err := m.function(b)
		if err != nil {
			return err
		}
		m.functions = append(m.functions, fn)
	case b.Labels[0] == "google_pubsub_topic":
		name, err := literal(b.Body, "name")
		if err != nil {
			return err
		}
		m.topics[b.Labels[1]] = name
	case b.Labels[0] == "google_pubsub_subscription":
		sub, ok, err := pushSubscription(b)
		if err != nil {
			return err
		}
		if ok {
			m.subscriptions = append(m.subscriptions, sub)
		}
	}
	return nil
}

// literal is a body's attribute that must be a literal string.
func literal(body *hclsyntax.Body, name string) (string, error) {
	attr, ok := body.Attributes[name]
	if !ok {
		return "", fmt.Errorf("no %s", name)
	}
	v, diags := attr.Expr.Value(&hcl.EvalContext{})
	if diags.HasErrors() || v.Type() != cty.String {
		return "", fmt.Errorf("%s is not a literal string", name)
	}
	return v.AsString(), nil
}

// pushSubscription reads a subscription with a push_config; ok is false
// for a pull subscription.
func pushSubscription(b *hclsyntax.Block) (sub subscription, ok bool, err error) {
	sub.resource = b.Labels[1]
	for _, inner := range b.Body.Blocks {
		switch inner.Type {
		case "push_config":
			attr, found := inner.Body.Attributes["push_endpoint"]
			if !found {
				return sub, false, errors.New("push_config has no push_endpoint")
			}
			if sub.pushesTo, err = refersTo(attr.Expr, "google_cloudfunctions2_function"); err != nil {
				return sub, false, fmt.Errorf("push_endpoint: %w", err)
			}
			ok = true
		case "dead_letter_policy":
			attr, found := inner.Body.Attributes["dead_letter_topic"]
			if !found {
				return sub, false, errors.New("dead_letter_policy has no dead_letter_topic")
			}
			if sub.deadLetter, err = refersTo(attr.Expr, "google_pubsub_topic"); err != nil {
				return sub, false, fmt.Errorf("dead_letter_topic: %w", err)
			}
		}
	}
	if !ok {
		return sub, false, nil
	}
	attr, found := b.Body.Attributes["topic"]
	if !found {
		return sub, false, errors.New("no topic")
	}
	if sub.topic, err = refersTo(attr.Expr, "google_pubsub_topic"); err != nil {
		return sub, false, fmt.Errorf("topic: %w", err)
	}
	return sub, true, nil
}

// refersTo is the label of the one resource of type typ expr refers to.
func refersTo(expr hclsyntax.Expression, typ string) (string, error) {
	var labels []string
	for _, t := range expr.Variables() {
		if t.RootName() != typ || len(t) < 2 {
			continue
		}
		if attr, ok := t[1].(hcl.TraverseAttr); ok && !slices.Contains(labels, attr.Name) {
			labels = append(labels, attr.Name)
		}
	}
	if len(labels) != 1 {
		return "", fmt.Errorf("refers to %d %s resources at %s, want one", len(labels), typ, expr.Range())
	}
	return labels[0], nil
}

func (m *module) function(b *hclsyntax.Block) (deployed, error) {
	fn := deployed{resource: b.Labels[1], env: map[string]hclsyntax.Expression{}}
	for _, sub := range b.Body.Blocks {
		switch sub.Type {
		case "build_config":
			if _, ok := sub.Body.Attributes["entry_point"]; !ok {
				return fn, errors.New("build_config has no entry_point")
			}
			ep, err := literal(sub.Body, "entry_point")
			if err != nil {
				return fn, err
			}
			fn.entryPoint = ep
		case "service_config":
			if attr, ok := sub.Body.Attributes["environment_variables"]; ok {
				items, err := m.items(attr.Expr, 0)
				if err != nil {
					return fn, fmt.Errorf("environment_variables: %w", err)
				}
				for _, it := range items {
					fn.env[it.key] = it.value
				}
			}
			for _, s := range sub.Body.Blocks {
				if s.Type != "secret_environment_variables" {
					continue
				}
				if _, ok := s.Body.Attributes["key"]; !ok {
					return fn, errors.New("secret_environment_variables has no key")
				}
				key, err := literal(s.Body, "key")
				if err != nil {
					return fn, fmt.Errorf("a secret_environment_variables %w", err)
				}
				fn.env[key] = nil
			}
		}
	}
	if fn.entryPoint == "" {
		return fn, errors.New("no build_config")
	}
	return fn, nil
}

// item is one key of a map expression and its value's expression.
type item struct {
	key   string
	value hclsyntax.Expression
}

// items lists a map expression's keys and value expressions without
// evaluating them.
func (m *module) items(expr hclsyntax.Expression, depth int) ([]item, error) {
	if depth > 32 {
		return nil, errors.New("locals refer to each other in a loop")
	}
	switch e := expr.(type) {
	case *hclsyntax.ObjectConsExpr:
		var out []item
		for _, it := range e.Items {
			if k := hcl.ExprAsKeyword(it.KeyExpr); k != "" {
				out = append(out, item{k, it.ValueExpr})
				continue
			}
			v, diags := it.KeyExpr.Value(&hcl.EvalContext{})
			if diags.HasErrors() || v.Type() != cty.String {
				return nil, fmt.Errorf("a key at %s is not a literal", it.KeyExpr.Range())
			}
			out = append(out, item{v.AsString(), it.ValueExpr})
		}
		return out, nil
	case *hclsyntax.FunctionCallExpr:
		if e.Name != "merge" {
			return nil, fmt.Errorf("%s() at %s: only merge() is followed", e.Name, e.Range())
		}
		var out []item
		for _, arg := range e.Args {
			k, err := m.items(arg, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, k...)
		}
		return out, nil
	case *hclsyntax.ScopeTraversalExpr:
		t := e.Traversal
		if len(t) == 2 && t.RootName() == "local" {
			if attr, ok := t[1].(hcl.TraverseAttr); ok {
				def, ok := m.locals[attr.Name]
				if !ok {
					return nil, fmt.Errorf("local.%s is not defined", attr.Name)
				}
				return m.items(def, depth+1)
			}
		}
	}
	return nil, fmt.Errorf("the expression at %s cannot be read without evaluating it", expr.Range())
}

// missingFunctions names the table's functions no resource deploys.
func missingFunctions(fns []app.Function, m *module) []string {
	var out []string
	for _, f := range fns {
		if !slices.ContainsFunc(m.functions, func(d deployed) bool { return d.entryPoint == f.Name }) {
			out = append(out, f.Name)
		}
	}
	return out
}

// wrongTriggers names, per function of the table, how its deployment
// feeds it otherwise than the table says: an HTTP function is pushed to
// by no subscription, a CloudEvent one by exactly one, on the topic the
// table names and with its dead-letter topic.
func wrongTriggers(fns []app.Function, m *module) []string {
	var out []string
	for _, f := range fns {
		i := slices.IndexFunc(m.functions, func(d deployed) bool { return d.entryPoint == f.Name })
		if i < 0 {
			continue // missingFunctions names it
		}
		var subs []subscription
		for _, s := range m.subscriptions {
			if s.pushesTo == m.functions[i].resource {
				subs = append(subs, s)
			}
		}
		switch {
		case f.Kind != app.CloudEvent:
			for _, s := range subs {
				out = append(out, fmt.Sprintf("%s: HTTP, but subscription %s pushes to it", f.Name, s.resource))
			}
		case len(subs) != 1:
			out = append(out, fmt.Sprintf("%s: %d push subscriptions, want 1 on topic %s", f.Name, len(subs), f.Topic))
		default:
			s := subs[0]
			if got := m.topics[s.topic]; got != f.Topic {
				out = append(out, fmt.Sprintf("%s: subscription %s is on topic %q, want %q", f.Name, s.resource, got, f.Topic))
			}
			if f.DeadLetter != "" && m.topics[s.deadLetter] != f.DeadLetter {
				out = append(out, fmt.Sprintf("%s: subscription %s dead-letters to %q, want %q", f.Name, s.resource, m.topics[s.deadLetter], f.DeadLetter))
			}
		}
	}
	return out
}

// missingEnv names, per function resource, the variables it does not set.
func missingEnv(vars []string, m *module) []string {
	var out []string
	for _, fn := range m.functions {
		for _, v := range vars {
			if _, ok := fn.env[v]; !ok {
				out = append(out, fn.resource+": "+v)
			}
		}
	}
	return out
}

// wrongDefaults names the variables whose value Terraform defaults to
// something else than config does: a var.x's default, or the name of the
// google_pubsub_topic it is set to. Each is read by config itself, as the
// function would read it, and compared with config.Defaults(); variables
// set from anything else are the deployment's own choice. checked counts
// the values compared.
func wrongDefaults(m *module) (out []string, checked int) {
	want := config.Defaults()
	seen := map[string]bool{}
	for _, fn := range m.functions {
		for _, key := range sortedKeys(fn.env) {
			val, ok := m.defaultOf(fn.env[key])
			if !ok || seen[key+"="+val] {
				continue
			}
			seen[key+"="+val] = true
			checked++
			var got config.Config
			err := envconfig.ProcessWith(context.Background(), &envconfig.Config{
				Target: &got, Lookuper: envconfig.MapLookuper(map[string]string{key: val}),
			})
			switch {
			case err != nil:
				out = append(out, fmt.Sprintf("%s: Terraform's default %q: %v", key, val, err))
			case !reflect.DeepEqual(got, want):
				out = append(out, fmt.Sprintf("%s: Terraform's default %q is not config's", key, val))
			}
		}
	}
	return out, checked
}

// defaultOf is what expr (var.x, tostring(var.x) or
// google_pubsub_topic.x.name) comes to when nobody sets a variable.
func (m *module) defaultOf(expr hclsyntax.Expression) (string, bool) {
	if call, ok := expr.(*hclsyntax.FunctionCallExpr); ok && call.Name == "tostring" && len(call.Args) == 1 {
		expr = call.Args[0]
	}
	ref, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(ref.Traversal) < 2 {
		return "", false
	}
	t := ref.Traversal
	label, ok := t[1].(hcl.TraverseAttr)
	if !ok {
		return "", false
	}
	switch t.RootName() {
	case "var":
		v, ok := m.defaults[label.Name]
		if !ok {
			return "", false
		}
		switch v.Type() {
		case cty.String:
			return v.AsString(), true
		case cty.Number:
			return v.AsBigFloat().Text('f', -1), true
		case cty.Bool:
			return strconv.FormatBool(v.True()), true
		}
	case "google_pubsub_topic":
		if attr, ok := t[len(t)-1].(hcl.TraverseAttr); ok && attr.Name == "name" {
			name, ok := m.topics[label.Name]
			return name, ok
		}
	}
	return "", false
}

// unformatted names the files terraform fmt would change.
func unformatted(files map[string][]byte) []string {
	var out []string
	for _, name := range sortedKeys(files) {
		if string(hclwrite.Format(files[name])) != string(files[name]) {
			out = append(out, name)
		}
	}
	return out
}

func readTerraform(dir string) (map[string][]byte, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read Terraform: %w", err)
		}
		files[filepath.Base(p)] = src
	}
	return files, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// load reads the configuration's variables and this directory's
// Terraform.
func load(t *testing.T) (vars []string, files map[string][]byte, m *module) {
	t.Helper()
	vars = envVars(reflect.TypeFor[config.Config](), "")
	var err error
	if files, err = readTerraform("."); err != nil {
		t.Fatal(err)
	}
	if m, err = parseModule(files); err != nil {
		t.Fatal(err)
	}
	return vars, files, m
}

func TestEveryFunctionIsDeployed(t *testing.T) {
	_, _, m := load(t)
	for _, name := range missingFunctions(app.Functions, m) {
		t.Errorf("internal/app declares function %q, but no google_cloudfunctions2_function has entry_point = %q", name, name)
	}
	seen := map[string]string{}
	for _, fn := range m.functions {
		if other, ok := seen[fn.entryPoint]; ok {
			t.Errorf("entry point %q is deployed twice, by %s and %s", fn.entryPoint, other, fn.resource)
		}
		seen[fn.entryPoint] = fn.resource
		if !slices.ContainsFunc(app.Functions, func(f app.Function) bool { return f.Name == fn.entryPoint }) {
			t.Errorf("google_cloudfunctions2_function.%s deploys %q, which internal/app does not declare", fn.resource, fn.entryPoint)
		}
	}
}

func TestEveryFunctionIsFedAsDeclared(t *testing.T) {
	_, _, m := load(t)
	if len(m.subscriptions) == 0 || len(m.topics) == 0 {
		t.Fatalf("found %d push subscriptions and %d topics: the check would look at nothing", len(m.subscriptions), len(m.topics))
	}
	for _, w := range wrongTriggers(app.Functions, m) {
		t.Error(w)
	}
}

func TestEveryFunctionGetsTheConfiguration(t *testing.T) {
	vars, _, m := load(t)
	if !slices.Contains(vars, "GOOGLE_CLOUD_PROJECT") || !slices.Contains(vars, "CALLBACK_MAX_ATTEMPTS") {
		t.Fatalf("config walk found %v: it misses variables it must see", vars)
	}
	for _, miss := range missingEnv(vars, m) {
		t.Errorf("%s is not set (environment_variables or secret_environment_variables)", miss)
	}
}

func TestDefaultsAreConfigs(t *testing.T) {
	_, _, m := load(t)
	wrong, checked := wrongDefaults(m)
	if checked < 10 {
		t.Errorf("compared %d defaults: the check misses what env.tf sets from variables and topics", checked)
	}
	for _, w := range wrong {
		t.Errorf("%s (internal/config holds the defaults; Terraform's must match them)", w)
	}
}

func TestFilesAreFormatted(t *testing.T) {
	_, files, _ := load(t)
	for _, name := range unformatted(files) {
		t.Errorf("%s is not formatted: run terraform fmt", name)
	}
}

// Package terraform holds the deployment's Terraform and the tests that
// keep it in step with the code: every function of function.go deployed,
// every configuration variable set on every function, every file
// formatted as terraform fmt would format it.
package terraform

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
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
	"github.com/zclconf/go-cty/cty"

	"github.com/templategw/templategw/internal/config"
)

// registeredFunctions returns the names function.go registers with the
// Functions Framework (functions.HTTP, functions.CloudEvent, ...), which
// are the entry points Cloud Functions builds.
func registeredFunctions(src []byte) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "function.go", src, 0)
	if err != nil {
		return nil, fmt.Errorf("parse function.go: %w", err)
	}
	var names []string
	var errs []error
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "functions" || len(call.Args) == 0 {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			errs = append(errs, fmt.Errorf("functions.%s registers a name that is not a string literal", sel.Sel.Name))
			return true
		}
		name, err := strconv.Unquote(lit.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("functions.%s name %s: %w", sel.Sel.Name, lit.Value, err))
			return true
		}
		names = append(names, name)
		return true
	})
	return names, errors.Join(errs...)
}

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
	env        map[string]bool // plain and secret-backed variables
}

// module is the Terraform of one directory, read without evaluating it.
type module struct {
	locals    map[string]hclsyntax.Expression
	functions []deployed
}

// parseModule reads Terraform sources keyed by file name. Function
// environments are resolved statically: object literals, merge() of them
// and references to locals; anything else is an error, so a check can
// never pass by failing to look.
func parseModule(files map[string][]byte) (*module, error) {
	m := &module{locals: map[string]hclsyntax.Expression{}}
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
			if b.Type != "resource" || len(b.Labels) != 2 || b.Labels[0] != "google_cloudfunctions2_function" {
				continue
			}
			fn, err := m.function(b)
			if err != nil {
				errs = append(errs, fmt.Errorf("google_cloudfunctions2_function.%s: %w", b.Labels[1], err))
				continue
			}
			m.functions = append(m.functions, fn)
		}
	}
	return m, errors.Join(errs...)
}

func (m *module) function(b *hclsyntax.Block) (deployed, error) {
	fn := deployed{resource: b.Labels[1], env: map[string]bool{}}
	for _, sub := range b.Body.Blocks {
		switch sub.Type {
		case "build_config":
			attr, ok := sub.Body.Attributes["entry_point"]
			if !ok {
				return fn, errors.New("build_config has no entry_point")
			}
			v, diags := attr.Expr.Value(&hcl.EvalContext{})
			if diags.HasErrors() || v.Type() != cty.String {
				return fn, errors.New("entry_point is not a literal string")
			}
			fn.entryPoint = v.AsString()
		case "service_config":
			if attr, ok := sub.Body.Attributes["environment_variables"]; ok {
				keys, err := m.keys(attr.Expr, 0)
				if err != nil {
					return fn, fmt.Errorf("environment_variables: %w", err)
				}
				for _, k := range keys {
					fn.env[k] = true
				}
			}
			for _, s := range sub.Body.Blocks {
				if s.Type != "secret_environment_variables" {
					continue
				}
				attr, ok := s.Body.Attributes["key"]
				if !ok {
					return fn, errors.New("secret_environment_variables has no key")
				}
				v, diags := attr.Expr.Value(&hcl.EvalContext{})
				if diags.HasErrors() || v.Type() != cty.String {
					return fn, errors.New("a secret_environment_variables key is not a literal string")
				}
				fn.env[v.AsString()] = true
			}
		}
	}
	if fn.entryPoint == "" {
		return fn, errors.New("no build_config")
	}
	return fn, nil
}

// keys lists the keys of a map expression without evaluating its values.
func (m *module) keys(expr hclsyntax.Expression, depth int) ([]string, error) {
	if depth > 32 {
		return nil, errors.New("locals refer to each other in a loop")
	}
	switch e := expr.(type) {
	case *hclsyntax.ObjectConsExpr:
		var out []string
		for _, item := range e.Items {
			if k := hcl.ExprAsKeyword(item.KeyExpr); k != "" {
				out = append(out, k)
				continue
			}
			v, diags := item.KeyExpr.Value(&hcl.EvalContext{})
			if diags.HasErrors() || v.Type() != cty.String {
				return nil, fmt.Errorf("a key at %s is not a literal", item.KeyExpr.Range())
			}
			out = append(out, v.AsString())
		}
		return out, nil
	case *hclsyntax.FunctionCallExpr:
		if e.Name != "merge" {
			return nil, fmt.Errorf("%s() at %s: only merge() is followed", e.Name, e.Range())
		}
		var out []string
		for _, arg := range e.Args {
			k, err := m.keys(arg, depth+1)
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
				return m.keys(def, depth+1)
			}
		}
	}
	return nil, fmt.Errorf("the expression at %s cannot be read without evaluating it", expr.Range())
}

// missingFunctions names the registered functions no resource deploys.
func missingFunctions(registered []string, m *module) []string {
	var out []string
	for _, name := range registered {
		if !slices.ContainsFunc(m.functions, func(d deployed) bool { return d.entryPoint == name }) {
			out = append(out, name)
		}
	}
	return out
}

// missingEnv names, per function resource, the variables it does not set.
func missingEnv(vars []string, m *module) []string {
	var out []string
	for _, fn := range m.functions {
		for _, v := range vars {
			if !fn.env[v] {
				out = append(out, fn.resource+": "+v)
			}
		}
	}
	return out
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

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// load reads function.go, the configuration's variables and this
// directory's Terraform.
func load(t *testing.T) (registered, vars []string, files map[string][]byte, m *module) {
	t.Helper()
	src, err := os.ReadFile("../function.go")
	if err != nil {
		t.Fatal(err)
	}
	if registered, err = registeredFunctions(src); err != nil {
		t.Fatal(err)
	}
	if len(registered) == 0 {
		t.Fatal("function.go registers no function: the checks would look at nothing")
	}
	vars = envVars(reflect.TypeFor[config.Config](), "")
	if files, err = readTerraform("."); err != nil {
		t.Fatal(err)
	}
	if m, err = parseModule(files); err != nil {
		t.Fatal(err)
	}
	return registered, vars, files, m
}

func TestEveryFunctionIsDeployed(t *testing.T) {
	registered, _, _, m := load(t)
	for _, name := range missingFunctions(registered, m) {
		t.Errorf("function.go registers %q, but no google_cloudfunctions2_function has entry_point = %q", name, name)
	}
	seen := map[string]string{}
	for _, fn := range m.functions {
		if other, ok := seen[fn.entryPoint]; ok {
			t.Errorf("entry point %q is deployed twice, by %s and %s", fn.entryPoint, other, fn.resource)
		}
		seen[fn.entryPoint] = fn.resource
		if !slices.Contains(registered, fn.entryPoint) {
			t.Errorf("google_cloudfunctions2_function.%s deploys %q, which function.go does not register", fn.resource, fn.entryPoint)
		}
	}
}

func TestEveryFunctionGetsTheConfiguration(t *testing.T) {
	_, vars, _, m := load(t)
	if !slices.Contains(vars, "GOOGLE_CLOUD_PROJECT") || !slices.Contains(vars, "CALLBACK_MAX_ATTEMPTS") {
		t.Fatalf("config walk found %v: it misses variables it must see", vars)
	}
	for _, miss := range missingEnv(vars, m) {
		t.Errorf("%s is not set (environment_variables or secret_environment_variables)", miss)
	}
}

func TestFilesAreFormatted(t *testing.T) {
	_, _, files, _ := load(t)
	for _, name := range unformatted(files) {
		t.Errorf("%s is not formatted: run terraform fmt", name)
	}
}

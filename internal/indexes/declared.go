package indexes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Override is a google_firestore_field with an index_config: it replaces
// the automatic single-field indexes of one field of a collection with
// Kept, one-field indexes (none: the field is exempted from indexing).
type Override struct {
	Collection string
	Field      string
	Kept       []Index
}

// Declared reads the google_firestore_index resources of the .tf files
// in dir. Each is returned ending with __name__, which Terraform may leave
// implicit: Firestore then orders it like the last field (ascending after
// an array-contains field).
func Declared(dir string) ([]Index, error) {
	s, err := readSchema(dir)
	return s.indexes, err
}

// Overrides reads the google_firestore_field resources of the .tf files in
// dir that set an index_config. A field with only a TTL policy keeps its
// automatic indexes and is not an Override.
func Overrides(dir string) ([]Override, error) {
	s, err := readSchema(dir)
	return s.overrides, err
}

type schema struct {
	indexes   []Index
	overrides []Override
}

func readSchema(dir string) (schema, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return schema{}, fmt.Errorf("list Terraform files of %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return schema{}, fmt.Errorf("no Terraform files in %s", dir)
	}
	slices.Sort(paths)
	files := map[string][]byte{}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return schema{}, fmt.Errorf("read Terraform file: %w", err)
		}
		files[p] = src
	}
	return parseSchema(files)
}

// parseSchema reads the Firestore resources of Terraform sources, keyed by
// file name. Attributes the check depends on must be literals: a value
// that only Terraform can compute cannot be checked here.
func parseSchema(files map[string][]byte) (schema, error) {
	var s schema
	var errs []error
	parser := hclparse.NewParser()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f, diags := parser.ParseHCL(files[name], name)
		if diags.HasErrors() {
			errs = append(errs, fmt.Errorf("parse %s: %w", name, diags))
			continue
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if b.Type != "resource" || len(b.Labels) != 2 {
				continue
			}
			switch b.Labels[0] {
			case "google_firestore_index":
				idx, err := parseIndex(b.Body)
				if err != nil {
					errs = append(errs, fmt.Errorf("google_firestore_index.%s: %w", b.Labels[1], err))
					continue
				}
				s.indexes = append(s.indexes, idx)
			case "google_firestore_field":
				o, ok, err := parseOverride(b.Body)
				if err != nil {
					errs = append(errs, fmt.Errorf("google_firestore_field.%s: %w", b.Labels[1], err))
					continue
				}
				if ok {
					s.overrides = append(s.overrides, o)
				}
			}
		}
	}
	return s, errors.Join(errs...)
}

func parseIndex(body *hclsyntax.Body) (Index, error) {
	var idx Index
	var err error
	if idx.Collection, err = literal(body, "collection", true); err != nil {
		return idx, err
	}
	scope, err := literal(body, "query_scope", false)
	if err != nil {
		return idx, err
	}
	idx.Group = scope == "COLLECTION_GROUP"
	for _, fb := range body.Blocks {
		if fb.Type != "fields" {
			continue
		}
		var f Field
		if f.Path, err = literal(fb.Body, "field_path", true); err != nil {
			return idx, err
		}
		if f.Array, f.Order, err = mode(fb.Body); err != nil {
			return idx, fmt.Errorf("field %s: %w", f.Path, err)
		}
		idx.Fields = append(idx.Fields, f)
	}
	if len(idx.Fields) == 0 {
		return idx, errors.New("no fields")
	}
	if last := idx.Fields[len(idx.Fields)-1]; last.Path != DocumentID {
		dir := last.Order
		if last.Array {
			dir = Ascending
		}
		idx.Fields = append(idx.Fields, Field{Path: DocumentID, Order: dir})
	}
	return idx, nil
}

func parseOverride(body *hclsyntax.Body) (Override, bool, error) {
	var o Override
	var err error
	if o.Collection, err = literal(body, "collection", true); err != nil {
		return o, false, err
	}
	if o.Field, err = literal(body, "field", true); err != nil {
		return o, false, err
	}
	found := false
	for _, cfg := range body.Blocks {
		if cfg.Type != "index_config" {
			continue
		}
		found = true
		for _, ib := range cfg.Body.Blocks {
			if ib.Type != "indexes" {
				continue
			}
			k := Index{Collection: o.Collection, Fields: []Field{{Path: o.Field}}}
			if k.Fields[0].Array, k.Fields[0].Order, err = mode(ib.Body); err != nil {
				return o, false, err
			}
			scope, err := literal(ib.Body, "query_scope", false)
			if err != nil {
				return o, false, err
			}
			k.Group = scope == "COLLECTION_GROUP"
			o.Kept = append(o.Kept, k)
		}
	}
	return o, found, nil
}

// mode reads an index entry's order or array_config; exactly one is set.
func mode(body *hclsyntax.Body) (array bool, order Order, err error) {
	o, err := literal(body, "order", false)
	if err != nil {
		return false, "", err
	}
	a, err := literal(body, "array_config", false)
	if err != nil {
		return false, "", err
	}
	switch {
	case o != "" && a != "":
		return false, "", errors.New("both order and array_config are set")
	case a == "CONTAINS":
		return true, "", nil
	case a != "":
		return false, "", fmt.Errorf("array_config %q is not CONTAINS", a)
	case o == string(Ascending) || o == string(Descending):
		return false, Order(o), nil
	default:
		return false, "", fmt.Errorf("order %q is not ASCENDING or DESCENDING", o)
	}
}

// literal reads a string attribute that must not depend on anything
// Terraform computes; "" when it is absent and not required.
func literal(body *hclsyntax.Body, name string, required bool) (string, error) {
	attr, ok := body.Attributes[name]
	if !ok {
		if required {
			return "", fmt.Errorf("%s is missing", name)
		}
		return "", nil
	}
	v, diags := attr.Expr.Value(&hcl.EvalContext{})
	if diags.HasErrors() || v.Type() != cty.String || v.IsNull() {
		return "", fmt.Errorf("%s at %s must be a literal string", name, rangeOf(attr))
	}
	return strings.TrimSpace(v.AsString()), nil
}

func rangeOf(attr *hclsyntax.Attribute) string {
	r := attr.SrcRange
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

package metaspec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// baseSuffix names the copy of a discriminated schema that its mapped
// schemas inherit from.
const baseSuffix = "__base"

// enforceDiscriminators gives OpenAPI's discriminator its meaning in plain
// JSON Schema, which ignores the keyword. The description leans on it: a
// template component is a TemplateComponent whose "type" names the schema
// (HeaderComponent, ButtonComponent, …) that holds its real rules, so
// without it a button's parameters or a header's media go unchecked.
//
// Each schema with a discriminator mapping gets, per mapped value, "if the
// property has that value, then the mapped schema". A mapped schema
// usually inherits the discriminated one through allOf, which would then
// dispatch to itself forever; those inherit a copy without the
// discriminator instead.
func enforceDiscriminators(schemas map[string]any) error {
	for _, name := range slices.Sorted(maps.Keys(schemas)) {
		s, ok := schemas[name].(map[string]any)
		if !ok {
			continue
		}
		if err := dispatchBelow(schemas, name, s); err != nil {
			return fmt.Errorf("schema %s: %w", name, err)
		}
	}
	return nil
}

// dispatchBelow handles the discriminators of s and of every object inside
// it; name is s's name when s is a named schema, else empty.
func dispatchBelow(schemas map[string]any, name string, s map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(s)) {
		switch e := s[k].(type) {
		case map[string]any:
			if err := dispatchBelow(schemas, "", e); err != nil {
				return err
			}
		case []any:
			for _, item := range e {
				if m, ok := item.(map[string]any); ok {
					if err := dispatchBelow(schemas, "", m); err != nil {
						return err
					}
				}
			}
		}
	}
	d, ok := s["discriminator"].(map[string]any)
	if !ok {
		return nil
	}
	prop, _ := d["propertyName"].(string)
	mapping, _ := d["mapping"].(map[string]any)
	if prop == "" || len(mapping) == 0 {
		return nil
	}
	if name != "" {
		if err := inheritBase(schemas, name, s, mapping); err != nil {
			return err
		}
	}
	for _, value := range slices.Sorted(maps.Keys(mapping)) {
		target, ok := mapping[value].(string)
		if !ok || !strings.HasPrefix(target, ref("")) {
			return fmt.Errorf("discriminator mapping %s: %v is not a schema reference", value, mapping[value])
		}
		s["allOf"] = append(anySlice(s["allOf"]), map[string]any{
			"if":   map[string]any{"properties": map[string]any{prop: map[string]any{"const": value}}, "required": []any{prop}},
			"then": map[string]any{"$ref": target},
		})
	}
	return nil
}

// inheritBase points the mapped schemas that inherit name at a copy of it
// made before its dispatch is added.
func inheritBase(schemas map[string]any, name string, s, mapping map[string]any) error {
	var base map[string]any
	for _, target := range mapping {
		t, _ := target.(string)
		m, err := path(schemas, strings.TrimPrefix(t, ref("")))
		if err != nil {
			return fmt.Errorf("discriminator mapping: %w", err)
		}
		for _, b := range branches(m) {
			if b["$ref"] != ref(name) {
				continue
			}
			if base == nil {
				if base, err = clone(s); err != nil {
					return err
				}
				delete(base, "discriminator")
				schemas[name+baseSuffix] = base
			}
			b["$ref"] = ref(name + baseSuffix)
		}
	}
	return nil
}

func clone(m map[string]any) (map[string]any, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

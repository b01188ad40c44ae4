// Package metaspec holds Meta's published OpenAPI description of the
// WhatsApp Cloud API (v23.0, MIT, in testdata/) and validates JSON against
// its schemas, so tests can prove that what the provider client sends and
// what the sandbox answers and posts have the shapes Meta documents.
//
// The description is checked as written, with JSON Schema 2020-12 as
// OpenAPI 3.1 declares and with OpenAPI's discriminator mappings enforced,
// except for the few rules corrections.go changes: rules the description
// gets wrong, and the shapes Graph API v24.0 changed since v23.0. Each
// correction is named there and proven necessary by this package's tests.
package metaspec

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v4"
)

//go:embed testdata/business-messaging-api_v23.0.yaml
var description []byte

// docURL names the description inside the schema compiler; schemas are
// compiled from fragments of it.
const docURL = "https://graph.facebook.com/openapi/business-messaging-api_v23.0.json"

// Schemas the gateway's traffic is checked against.
const (
	// SendRequest is the body of POST /{Version}/{Phone-Number-ID}/messages.
	SendRequest = "Message"
	// SendAnswer is that call's success answer.
	SendAnswer = "MessageResponsePayload"
	// GraphError is every Graph API error answer.
	GraphError = "GraphAPIError"
	// Webhook is every webhook Meta posts for a WhatsApp Business Account.
	Webhook = "WebhookPayload"
)

// Spec is the loaded, corrected description. It is safe for concurrent use.
type Spec struct {
	compiler *jsonschema.Compiler

	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema
}

var (
	loadOnce sync.Once
	loaded   *Spec
	loadErr  error
)

// Load parses the description once per process and applies corrections.go.
func Load() (*Spec, error) {
	loadOnce.Do(func() { loaded, loadErr = load(description, "") })
	return loaded, loadErr
}

// load parses yamlDoc and applies every correction but the one named skip.
func load(yamlDoc []byte, skip string) (*Spec, error) {
	var raw any
	if err := yaml.Unmarshal(yamlDoc, &raw); err != nil {
		return nil, fmt.Errorf("parse Meta's OpenAPI description: %w", err)
	}
	// A JSON round trip turns YAML's types (int keys, timestamps) into the
	// ones the schema compiler takes.
	js, err := json.Marshal(jsonable(raw))
	if err != nil {
		return nil, fmt.Errorf("convert Meta's OpenAPI description to JSON: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, fmt.Errorf("read Meta's OpenAPI description as JSON: %w", err)
	}
	schemas, err := path(doc, "components", "schemas")
	if err != nil {
		return nil, fmt.Errorf("Meta's OpenAPI description: %w", err)
	}
	if err := applyCorrections(schemas, skip); err != nil {
		return nil, fmt.Errorf("correct Meta's OpenAPI description: %w", err)
	}
	if err := enforceDiscriminators(schemas); err != nil {
		return nil, fmt.Errorf("Meta's OpenAPI description: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(docURL, doc); err != nil {
		return nil, fmt.Errorf("add Meta's OpenAPI description: %w", err)
	}
	return &Spec{compiler: c, compiled: map[string]*jsonschema.Schema{}}, nil
}

// jsonable turns the maps YAML decodes with non-string keys (a response
// code such as 200) into maps with string keys.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonable(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonable(e)
		}
		return v
	}
	return v
}

// schema compiles components/schemas/name once.
func (s *Spec) schema(name string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.compiled[name]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(docURL + "#/components/schemas/" + name)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", name, err)
	}
	s.compiled[name] = sch
	return sch, nil
}

// Validate checks body, a JSON document, against components/schemas/name.
// The error names every rule the body breaks.
func (s *Spec) Validate(name string, body []byte) error {
	sch, err := s.schema(name)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := sch.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("against Meta's %s: %s", name, ve.Error())
		}
		return fmt.Errorf("against Meta's %s: %w", name, err)
	}
	return nil
}

// ValidateAnswer checks an answer of POST /{Version}/{Phone-Number-ID}/messages:
// a 2xx against SendAnswer, anything else against GraphError.
func (s *Spec) ValidateAnswer(status int, body []byte) error {
	if status >= 200 && status <= 299 {
		return s.Validate(SendAnswer, body)
	}
	return s.Validate(GraphError, body)
}

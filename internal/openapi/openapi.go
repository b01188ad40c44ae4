// Package openapi loads docs/openapi.yaml, the OpenAPI 3.1 description of
// the templates, messages, batches, cloudchat and wati functions, and maps the
// functions' own routes onto its paths. Its tests hold the description to
// the handlers: the same routes, and every answer valid against it.
package openapi

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Functions are the HTTP functions the description covers, by the name
// each is deployed under (its first path segment at the front door).
var Functions = []string{"templates", "messages", "batches", "cloudchat", "wati"}

// Load reads the description at path, resolves its references and
// validates it as the OpenAPI version it declares (with JSON Schema
// 2020-12 for 3.1), including its examples against their schemas.
func Load(ctx context.Context, path string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate %s: %w", path, err)
	}
	return doc, nil
}

// chiParam matches a chi path parameter with a regular expression,
// {name:regexp}, which OpenAPI writes {name}.
var chiParam = regexp.MustCompile(`\{([^{}:]+):[^{}]*\}`)

// PathOf is the path a client uses for a function's route: the route as
// the function's router declares it, behind /<function>. The function's
// root "/" is /<function> itself, as its URL
// https://REGION-PROJECT.cloudfunctions.net/<function> is.
func PathOf(function, route string) string {
	route = chiParam.ReplaceAllString(route, "{$1}")
	route = strings.TrimSuffix(route, "/")
	return "/" + function + route
}

// FunctionOf is the function a description path belongs to, its first
// segment.
func FunctionOf(path string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return name
}

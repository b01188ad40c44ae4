// Package secret resolves the secret references channels carry for their
// Meta access tokens, so tokens live in a secret store and never in a
// Firestore document.
package secret

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// Env resolves references of the form "env:NAME" from the process
// environment. In the cloud, Terraform maps each Secret Manager secret into
// the function's environment, so the reference is the same there and in
// the dev stack.
type Env struct{}

// Resolve returns the secret ref names.
func (Env) Resolve(_ context.Context, ref string) (string, error) {
	name, ok := strings.CutPrefix(ref, "env:")
	if !ok || name == "" {
		return "", fmt.Errorf("secret reference %q: want env:NAME", ref)
	}
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("secret reference %q: %s is not set", ref, name)
	}
	return v, nil
}

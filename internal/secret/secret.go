// Package secret resolves the secret references channels carry for their
// Meta access tokens, so tokens live in a secret store and never in a
// Firestore document.
package secret

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// refPattern is the one reference form Env resolves: the name of the
// environment variable the deployment maps the secret into.
var refPattern = regexp.MustCompile(`^env:[A-Za-z_][A-Za-z0-9_]*$`)

// CheckRef reports whether ref has the form Env resolves, so a channel is
// refused when it is stored rather than when its first message fails.
func CheckRef(ref string) error {
	if !refPattern.MatchString(ref) {
		return fmt.Errorf("secret reference %q: want env:NAME, NAME an environment variable name", ref)
	}
	return nil
}

// Env resolves references of the form "env:NAME" from the process
// environment. In the cloud, Terraform maps each Secret Manager secret into
// the function's environment, so the reference is the same there and in
// the dev stack.
type Env struct{}

// Resolve returns the secret ref names.
func (Env) Resolve(_ context.Context, ref string) (string, error) {
	if err := CheckRef(ref); err != nil {
		return "", err
	}
	name := strings.TrimPrefix(ref, "env:")
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("secret reference %q: %s is not set", ref, name)
	}
	return v, nil
}

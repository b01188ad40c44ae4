//go:build unix

package emulatortest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/api/option"

	"github.com/templategw/templategw/internal/indexes"
)

// recorder holds the queries of every Firestore client made with
// FirestoreOptions in this test binary.
var recorder indexes.Recorder

// FirestoreOptions returns the options to pass to firestore.NewClient so
// that the client's queries are checked, when the package's tests have
// passed, against the indexes terraform/ declares. The emulator runs any
// query without an index; Firestore refuses one whose index is missing.
// Like ProjectID, it starts the package's emulators if no test has yet.
func FirestoreOptions(t testing.TB) []option.ClientOption {
	t.Helper()
	require(t)
	opts, err := recorder.ClientOptions()
	if err != nil {
		t.Fatalf("emulatortest: %v", err)
	}
	return opts
}

// checkIndexes fails when rec saw a query that needs an index the
// module's terraform/ directory does not provide, naming each in the
// Terraform that would declare it.
func checkIndexes(rec *indexes.Recorder) error {
	queries := rec.Queries()
	if len(queries) == 0 {
		return nil
	}
	dir, err := terraformDir()
	if err != nil {
		return err
	}
	missing, err := indexes.Check(queries, dir)
	if err != nil {
		return fmt.Errorf("check the indexes of %d queries: %w", len(queries), err)
	}
	if len(missing) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the tests passed, but their queries need Firestore indexes that terraform/ does not provide "+
		"(the emulator serves such queries, Firestore refuses them); declare them in %s:\n", filepath.Join(dir, "firestore.tf"))
	for _, idx := range missing {
		fmt.Fprintf(&b, "\n# %s\n%s", idx, idx.Terraform())
	}
	return errors.New(b.String())
}

// terraformDir finds terraform/ beside the module's go.mod, walking up
// from the package directory go test runs in.
func terraformDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find terraform/: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "terraform"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find terraform/: no go.mod above the working directory")
		}
		dir = parent
	}
}

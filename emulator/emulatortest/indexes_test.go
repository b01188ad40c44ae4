//go:build unix

package emulatortest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/indexes"
)

// undeclaredQuery runs a query whose composite index terraform/ does not
// declare: messages filtered by channel, newest first.
func undeclaredQuery(t *testing.T, fs *firestore.Client) {
	t.Helper()
	_, err := fs.Collection("tenants").Doc("t").Collection("messages").
		Where("channel", "==", "main").OrderBy("createdAt", firestore.Desc).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFirestoreOptionsRecordQueries(t *testing.T) {
	fs, err := firestore.NewClient(context.Background(), ProjectID(t), FirestoreOptions(t)...)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	// A query the product runs (GET /messages?status=), so this package's
	// own check at the end of Main passes.
	_, err = fs.Collection("tenants").Doc("t").Collection("messages").Where("status", "==", "sent").
		OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, q := range recorder.Queries() {
		found = found || q.GetFrom()[0].GetCollectionId() == "messages"
	}
	if !found {
		t.Fatalf("the package recorder did not see the query: %v", recorder.Queries())
	}
}

func TestCheckIndexesNamesTheMissingIndex(t *testing.T) {
	var rec indexes.Recorder
	if err := checkIndexes(&rec); err != nil {
		t.Fatalf("no query recorded: err = %v, want nil", err)
	}
	opts, err := rec.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	fs, err := firestore.NewClient(context.Background(), ProjectID(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	undeclaredQuery(t, fs)
	err = checkIndexes(&rec)
	if err == nil {
		t.Fatal("an undeclared index passed the check")
	}
	for _, want := range []string{
		"messages (channel ASCENDING, createdAt DESCENDING, __name__ DESCENDING)",
		`resource "google_firestore_index"`,
		`field_path = "channel"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the failure does not show %q:\n%v", want, err)
		}
	}
}

// TestMainFailsOnUndeclaredIndex runs this test binary again with one
// test that passes but needs an undeclared index: Main must exit 1.
func TestMainFailsOnUndeclaredIndex(t *testing.T) {
	Hosts(t) // started here, they serve the other process too
	cmd := exec.Command(os.Args[0], "-test.run=^TestUndeclaredIndexQuery$")
	cmd.Env = append(os.Environ(), "EMULATORTEST_UNDECLARED_INDEX=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") || !strings.Contains(string(out), `field_path = "channel"`) {
		t.Errorf("want the test to pass and Main to name the index; output:\n%s", out)
	}
}

// TestUndeclaredIndexQuery is run only by TestMainFailsOnUndeclaredIndex.
func TestUndeclaredIndexQuery(t *testing.T) {
	if os.Getenv("EMULATORTEST_UNDECLARED_INDEX") != "1" {
		t.Skip("run by TestMainFailsOnUndeclaredIndex")
	}
	fs, err := firestore.NewClient(context.Background(), ProjectID(t), FirestoreOptions(t)...)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	undeclaredQuery(t, fs)
}

func TestTerraformDirIsBesideGoMod(t *testing.T) {
	dir, err := terraformDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/main.tf"); err != nil {
		t.Errorf("terraformDir = %s: %v", dir, err)
	}
	t.Chdir(t.TempDir())
	if _, err := terraformDir(); err == nil {
		t.Error("found a terraform/ outside any module")
	}
}

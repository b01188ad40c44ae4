//go:build unix

package emulatortest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/templategw/templategw/emulator"
)

func TestMain(m *testing.M) { Main(m) }

func TestMainSetsBothHosts(t *testing.T) {
	for _, env := range []string{firestoreEnv, pubsubEnv} {
		host := os.Getenv(env)
		if host == "" {
			t.Fatalf("%s is not set", env)
		}
		if err := answers(context.Background(), host); err != nil {
			t.Errorf("%s=%s: %v", env, host, err)
		}
	}
}

var validProjectID = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

func TestProjectIDIsFreshAndValid(t *testing.T) {
	a, b := ProjectID(t), ProjectID(t)
	if a == b {
		t.Fatalf("two calls gave the same id %q", a)
	}
	for _, id := range []string{a, b} {
		if !validProjectID.MatchString(id) {
			t.Errorf("%q is not a valid project id", id)
		}
	}
	t.Run("a subtest with a long name, spaces & Capitals that must be cut", func(t *testing.T) {
		id := ProjectID(t)
		if !validProjectID.MatchString(id) || !strings.HasPrefix(id, "t-projectidisfresh") {
			t.Errorf("%q: want a valid id starting with t-projectidisfresh", id)
		}
	})
}

// TestEmulatorsAcceptProjectIDs uses ids from ProjectID for real data,
// since the Pub/Sub emulator rejects malformed project names.
func TestEmulatorsAcceptProjectIDs(t *testing.T) {
	a, b := ProjectID(t), ProjectID(t)
	fs, ps := os.Getenv(firestoreEnv), os.Getenv(pubsubEnv)
	do(t, http.MethodPut, fmt.Sprintf("http://%s/v1/projects/%s/topics/topic-a", ps, a), "")
	do(t, http.MethodPost, fmt.Sprintf("http://%s/v1/projects/%s/databases/(default)/documents/c?documentId=d", fs, a), "{}")
	// b shares the emulators but not a's data.
	if got := do(t, http.MethodGet, fmt.Sprintf("http://%s/v1/projects/%s/databases/(default)/documents/c", fs, b), ""); strings.Contains(got, "documents/c/d") {
		t.Errorf("project %s sees %s's document: %s", b, a, got)
	}
	if err := emulator.ResetFirestore(context.Background(), fs, a); err != nil {
		t.Error(err)
	}
}

// TestEnsureReusesRunningEmulators checks the branch Main takes when the
// variables are already set (here, by this package's own Main).
func TestEnsureReusesRunningEmulators(t *testing.T) {
	fs, ps := os.Getenv(firestoreEnv), os.Getenv(pubsubEnv)
	stop, err := ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if os.Getenv(firestoreEnv) != fs || os.Getenv(pubsubEnv) != ps {
		t.Errorf("ensure replaced running emulators")
	}
	if err := answers(context.Background(), fs); err != nil {
		t.Errorf("stop of reused emulators stopped Firestore: %v", err)
	}
}

func TestEnsureRejectsStaleHost(t *testing.T) {
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pubsubEnv, "127.0.0.1:"+strconv.Itoa(port))
	_, err = ensure(context.Background())
	if err == nil || !strings.Contains(err.Error(), pubsubEnv+"=127.0.0.1:") {
		t.Fatalf("err = %v, want one naming the stale %s", err, pubsubEnv)
	}
}

// TestMainFailsWithoutGcloud runs this test binary again with nothing
// on PATH: Main must exit 1 naming what is missing, never skip.
func TestMainFailsWithoutGcloud(t *testing.T) {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, firestoreEnv+"=") && !strings.HasPrefix(kv, pubsubEnv+"=") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainSetsBothHosts$")
	cmd.Env = append(env, "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "emulatortest:") || !strings.Contains(string(out), "gcloud (the Google Cloud CLI) is not on PATH") {
		t.Errorf("output does not say gcloud is missing:\n%s", out)
	}
	if strings.Contains(string(out), "SKIP") {
		t.Errorf("tests were skipped:\n%s", out)
	}
}

func do(t *testing.T, method, url, body string) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	return string(b)
}

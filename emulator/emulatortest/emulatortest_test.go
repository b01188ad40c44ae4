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

func TestHostsStartsBothEmulators(t *testing.T) {
	fs, ps := Hosts(t)
	for env, host := range map[string]string{firestoreEnv: fs, pubsubEnv: ps} {
		if host == "" || os.Getenv(env) != host {
			t.Fatalf("Hosts gave %q, %s=%q", host, env, os.Getenv(env))
		}
		if err := answers(context.Background(), host); err != nil {
			t.Errorf("%s=%s: %v", env, host, err)
		}
	}
	t.Logf("hosts %s %s", fs, ps)
}

// TestHostsRestoresTheVariables: a test that emptied a variable with
// t.Setenv, or followed one whose cleanup unset it, still gets the
// emulators the package started.
func TestHostsRestoresTheVariables(t *testing.T) {
	fs, _ := Hosts(t)
	t.Setenv(firestoreEnv, "")
	if again, _ := Hosts(t); again != fs || os.Getenv(firestoreEnv) != fs {
		t.Fatalf("Hosts gave %q with %s=%q, want %q in both", again, firestoreEnv, os.Getenv(firestoreEnv), fs)
	}
}

var validProjectID = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// TestProjectIDIsFreshAndValid needs no emulator: projectID is what
// ProjectID returns once they answer.
func TestProjectIDIsFreshAndValid(t *testing.T) {
	a, b := projectID(t.Name()), projectID(t.Name())
	if a == b {
		t.Fatalf("two calls gave the same id %q", a)
	}
	for _, id := range []string{a, b} {
		if !validProjectID.MatchString(id) {
			t.Errorf("%q is not a valid project id", id)
		}
	}
	t.Run("a subtest with a long name, spaces & Capitals that must be cut", func(t *testing.T) {
		id := projectID(t.Name())
		if !validProjectID.MatchString(id) || !strings.HasPrefix(id, "t-projectidisfresh") {
			t.Errorf("%q: want a valid id starting with t-projectidisfresh", id)
		}
	})
}

// TestEmulatorsAcceptProjectIDs uses ids from ProjectID for real data,
// since the Pub/Sub emulator rejects malformed project names.
func TestEmulatorsAcceptProjectIDs(t *testing.T) {
	a, b := ProjectID(t), ProjectID(t)
	fs, ps := Hosts(t)
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

// TestEnsureReusesRunningEmulators checks the branch the harness takes
// when the variables are already set (here, by this package's own start).
func TestEnsureReusesRunningEmulators(t *testing.T) {
	fs, ps := Hosts(t)
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

// withoutEmulators is this process's environment with no emulator
// variables and PATH set to path.
func withoutEmulators(path string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, firestoreEnv+"=") && !strings.HasPrefix(kv, pubsubEnv+"=") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return append(env, "PATH="+path)
}

// rerun runs this test binary again on the tests run names, in env, and
// returns its exit code and output.
func rerun(t *testing.T, env []string, run string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.v", "-test.run="+run)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("run %s: %v", run, err)
	return 0, ""
}

// TestUnitTestsNeedNoGcloud runs this package's unit tests again with
// nothing on PATH: nothing asks for the emulators, so nothing starts
// them and they pass.
func TestUnitTestsNeedNoGcloud(t *testing.T) {
	code, out := rerun(t, withoutEmulators(t.TempDir()), "^(TestProjectIDIsFreshAndValid|TestTerraformDirIsBesideGoMod)$")
	if code != 0 || strings.Contains(out, "emulatortest:") {
		t.Fatalf("exit %d, want 0 with no word from the harness; output:\n%s", code, out)
	}
	for _, name := range []string{"TestProjectIDIsFreshAndValid", "TestTerraformDirIsBesideGoMod"} {
		if !strings.Contains(out, "--- PASS: "+name) {
			t.Errorf("%s did not pass:\n%s", name, out)
		}
	}
}

// TestEmulatorTestsFailWithoutGcloud runs two tests that need the
// emulators with nothing on PATH: each fails naming what is missing,
// none skips.
func TestEmulatorTestsFailWithoutGcloud(t *testing.T) {
	code, out := rerun(t, withoutEmulators(t.TempDir()), "^(TestHostsStartsBothEmulators|TestEmulatorsAcceptProjectIDs)$")
	if code != 1 {
		t.Fatalf("exit %d, want 1; output:\n%s", code, out)
	}
	for _, name := range []string{"TestHostsStartsBothEmulators", "TestEmulatorsAcceptProjectIDs"} {
		if !strings.Contains(out, "--- FAIL: "+name) {
			t.Errorf("%s did not fail:\n%s", name, out)
		}
	}
	if n := strings.Count(out, "emulatortest: start emulators:"); n != 2 || !strings.Contains(out, "gcloud (the Google Cloud CLI) is not on PATH") {
		t.Errorf("want each test to say gcloud is missing (%d did):\n%s", n, out)
	}
	if strings.Contains(out, "SKIP") {
		t.Errorf("tests were skipped:\n%s", out)
	}
}

var hostsLine = regexp.MustCompile(`hosts (\S+) (\S+)`)

// TestMainStopsWhatItStarted runs a test that starts emulators of its
// own in another process: once that process has exited they no longer
// answer.
func TestMainStopsWhatItStarted(t *testing.T) {
	code, out := rerun(t, withoutEmulators(os.Getenv("PATH")), "^TestHostsStartsBothEmulators$")
	m := hostsLine.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("exit %d, want 0 with the hosts logged; output:\n%s", code, out)
	}
	for _, host := range m[1:] {
		if host == os.Getenv(firestoreEnv) || host == os.Getenv(pubsubEnv) {
			t.Fatalf("the other process reused this one's emulator %s", host)
		}
		if err := answers(context.Background(), host); err == nil {
			t.Errorf("an emulator still answers at %s after its tests ended", host)
		}
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

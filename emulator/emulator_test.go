//go:build unix

package emulator

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStackStartsAnswersAndStopsCleanly(t *testing.T) {
	t.Parallel()
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })

	env := s.Env()
	want := []string{"FIRESTORE_EMULATOR_HOST=" + s.Firestore.Host, "PUBSUB_EMULATOR_HOST=" + s.PubSub.Host}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Errorf("Env() = %q, want %q", env, want)
	}
	for _, e := range []*Emulator{s.Firestore, s.PubSub} {
		if !strings.HasPrefix(e.Host, "127.0.0.1:") {
			t.Errorf("%s Host = %q, want 127.0.0.1:PORT", e.name, e.Host)
		}
		if ok, err := ping(context.Background(), http.DefaultClient, e.Host); !ok {
			t.Errorf("%s at %s does not answer Ok: %v", e.name, e.Host, err)
		}
		// Proves the group check below looks at the right group: the JVM
		// is a grandchild, yet in the group.
		if procs := liveGroupProcs(t, e.pgid); !containsComm(procs, "java") {
			t.Errorf("%s group %d has no java process: %v", e.name, e.pgid, procs)
		}
	}
	// Both emulators answer real API calls, not just the health check.
	project := "stack-test"
	createDoc(t, s.Firestore.Host, project, "c", "d1")
	mustDo(t, http.MethodPut, "http://"+s.PubSub.Host+"/v1/projects/"+project+"/topics/topic-1", "", http.StatusOK)

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, e := range []*Emulator{s.Firestore, s.PubSub} {
		if procs := liveGroupProcs(t, e.pgid); len(procs) > 0 {
			t.Errorf("after Stop, %s group %d still has %v", e.name, e.pgid, procs)
		}
		if ok, _ := ping(context.Background(), http.DefaultClient, e.Host); ok {
			t.Errorf("%s still answers on %s after Stop", e.name, e.Host)
		}
	}
	for i := 0; i < 2; i++ {
		if err := s.Stop(); err != nil {
			t.Errorf("Stop again: %v", err)
		}
		if err := s.Firestore.Stop(); err != nil {
			t.Errorf("Firestore.Stop again: %v", err)
		}
	}
}

func TestNilStopIsNoop(t *testing.T) {
	t.Parallel()
	var s *Stack
	var e *Emulator
	if err := errorsOf(s.Stop(), e.Stop(), (&Stack{}).Stop()); err != "" {
		t.Fatal(err)
	}
}

func TestResetFirestoreDeletesOnlyThatProject(t *testing.T) {
	t.Parallel()
	e := startFirestore(t, Options{})
	createDoc(t, e.Host, "reset-a", "c", "d1")
	createDoc(t, e.Host, "reset-b", "c", "d1")
	if err := ResetFirestore(context.Background(), e.Host, "reset-a"); err != nil {
		t.Fatal(err)
	}
	if docs := listDocs(t, e.Host, "reset-a", "c"); len(docs) != 0 {
		t.Errorf("reset-a after reset: %v", docs)
	}
	if docs := listDocs(t, e.Host, "reset-b", "c"); len(docs) != 1 {
		t.Errorf("reset-b after resetting reset-a: %v, want one document", docs)
	}
}

func TestResetFirestoreReportsUnreachableEmulator(t *testing.T) {
	t.Parallel()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	err = ResetFirestore(context.Background(), "127.0.0.1:"+strconv.Itoa(port), "p")
	if err == nil || !strings.Contains(err.Error(), "reset firestore project p") {
		t.Fatalf("err = %v, want one naming the reset", err)
	}
}

func TestDataDirKeepsFirestoreAcrossRestarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{DataDir: dir, Project: "persist-test"}

	e := startFirestore(t, opts)
	createDoc(t, e.Host, opts.Project, "c", "kept")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(dir, "firestore", snapshotName, snapshotName+".overall_export_metadata")
	if _, err := os.Stat(meta); err != nil {
		t.Fatalf("no snapshot after Stop: %v", err)
	}

	e = startFirestore(t, opts)
	if docs := listDocs(t, e.Host, opts.Project, "c"); len(docs) != 1 || !strings.HasSuffix(docs[0], "/c/kept") {
		t.Fatalf("after restart: %v, want c/kept", docs)
	}
	// A second round overwrites the snapshot rather than failing on it.
	createDoc(t, e.Host, opts.Project, "c", "added")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	e = startFirestore(t, opts)
	if docs := listDocs(t, e.Host, opts.Project, "c"); len(docs) != 2 {
		t.Fatalf("after second restart: %v, want kept and added", docs)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "firestore.*")); len(leftovers) > 0 {
		t.Errorf("staging directories left behind: %v", leftovers)
	}
}

func TestDataDirGivesPubSubItsDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e, err := StartPubSub(context.Background(), Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if _, err := os.Stat(filepath.Join(dir, "pubsub", "env.yaml")); err != nil {
		t.Errorf("gcloud wrote no env.yaml into DataDir/pubsub: %v", err)
	}
}

func TestDataDirNeedsProject(t *testing.T) {
	t.Parallel()
	_, err := StartFirestore(context.Background(), Options{DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "Options.Project is required") {
		t.Fatalf("err = %v, want one asking for Options.Project", err)
	}
}

func TestOutputGoesToCallerAndTail(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	e := startFirestore(t, Options{Stdout: &logs, Stderr: &logs})
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "Dev App Server is now running") {
		t.Errorf("the caller's writer did not get the emulator's log:\n%s", logs.String())
	}
	if !strings.Contains(e.out.tail(), "Dev App Server is now running") {
		t.Errorf("tail misses the log:\n%s", e.out.tail())
	}
}

func TestCancelledStartReportsContextError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s, err := Start(ctx, Options{})
	if err == nil {
		s.Stop()
		t.Fatal("Start succeeded within 300ms; cannot test cancellation")
	}
	if !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("err = %v, want the context's error", err)
	}
}

// TestMissingToolsAreNamed checks the preflight messages without running
// anything, by pointing PATH at fake installations.
func TestMissingToolsAreNamed(t *testing.T) {
	realJava, err := exec.LookPath("java")
	if err != nil {
		t.Fatal("java must be on PATH for this test:", err)
	}
	fakeSDK := func(t *testing.T, dirs ...string) string {
		root := t.TempDir()
		for _, d := range append([]string{"bin", "platform"}, dirs...) {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(root, "bin", "gcloud"), []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return root
	}
	withJava := func(t *testing.T) string {
		dir := t.TempDir()
		if err := os.Symlink(realJava, filepath.Join(dir, "java")); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	complete := []string{"platform/cloud-firestore-emulator", "platform/pubsub-emulator", "lib/surface/beta"}
	tests := []struct {
		name  string
		path  func(t *testing.T) string
		start func(context.Context, Options) (*Emulator, error)
		want  []string
	}{
		{"no gcloud", func(t *testing.T) string { return t.TempDir() }, StartFirestore,
			[]string{"gcloud", "not on PATH", "https://cloud.google.com/sdk/docs/install"}},
		{"no firestore component", func(t *testing.T) string {
			return filepath.Join(fakeSDK(t, "platform/pubsub-emulator", "lib/surface/beta"), "bin") + ":" + withJava(t)
		}, StartFirestore, []string{"Cloud Firestore emulator is not installed", "gcloud components install cloud-firestore-emulator", "apt-get install google-cloud-cli-firestore-emulator"}},
		{"no pubsub component", func(t *testing.T) string {
			return filepath.Join(fakeSDK(t, "platform/cloud-firestore-emulator", "lib/surface/beta"), "bin") + ":" + withJava(t)
		}, StartPubSub, []string{"Cloud Pub/Sub emulator is not installed", "gcloud components install pubsub-emulator", "apt-get install google-cloud-cli-pubsub-emulator"}},
		{"no beta", func(t *testing.T) string {
			return filepath.Join(fakeSDK(t, "platform/pubsub-emulator"), "bin") + ":" + withJava(t)
		}, StartPubSub, []string{"gcloud beta", "gcloud components install beta"}},
		{"no java", func(t *testing.T) string { return filepath.Join(fakeSDK(t, complete...), "bin") }, StartFirestore,
			[]string{"java is not on PATH", "openjdk"}},
		{"no java for pubsub", func(t *testing.T) string { return filepath.Join(fakeSDK(t, complete...), "bin") }, StartPubSub,
			[]string{"java is not on PATH", "Pub/Sub"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path(t))
			e, err := tt.start(context.Background(), Options{})
			if err == nil {
				e.Stop()
				t.Fatal("started despite the missing tool")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not mention %q", err, w)
				}
			}
		})
	}
}

// TestOrphanGuardKillsGroupWhenOwnerDies kills a process that runs an
// emulator with SIGKILL (no Stop, no deferred cleanup) and expects the
// watchdog to take the whole group down anyway.
func TestOrphanGuardKillsGroupWhenOwnerDies(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldEmulator$")
	cmd.Env = append(os.Environ(), "EMULATOR_TEST_HELPER=1")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := -1
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "PGID "); ok {
			pgid, _ = strconv.Atoi(n)
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if pgid <= 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("helper did not report its emulator's process group")
	}
	if procs := liveGroupProcs(t, pgid); !containsComm(procs, "java") {
		t.Fatalf("helper's group %d has no java: %v", pgid, procs)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		procs := liveGroupProcs(t, pgid)
		if len(procs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(-pgid, syscall.SIGKILL)
			t.Fatalf("20s after its owner died, group %d still has %v", pgid, procs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHelperHoldEmulator is the owner process of
// TestOrphanGuardKillsGroupWhenOwnerDies, not a test of its own.
func TestHelperHoldEmulator(t *testing.T) {
	if os.Getenv("EMULATOR_TEST_HELPER") != "1" {
		return
	}
	e, err := StartPubSub(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("PGID %d\n", e.pgid)
	time.Sleep(time.Minute) // until the parent kills us
}

// TestLostPortRaceRetries hands each emulator a port someone else holds
// first, as when another process grabs it after FreePort let it go.
func TestLostPortRaceRetries(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start func(context.Context, Options) (*Emulator, error)
	}{{"firestore", StartFirestore}, {"pubsub", StartPubSub}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			takenPort := taken.Addr().(*net.TCPAddr).Port
			calls := 0
			ports := func() (int, error) {
				calls++
				if calls == 1 {
					return takenPort, nil
				}
				return FreePort()
			}
			// Only a lost race seen in the emulator's log retries: a port
			// noticed by the ready timeout fails start, so a second pick
			// and a nil error prove the log was read, with no timing.
			e, err := tt.start(context.Background(), Options{ports: ports})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Stop()
			if calls != 2 || e.Host == taken.Addr().String() {
				t.Errorf("Host %s after %d port picks, want a second port", e.Host, calls)
			}
		})
	}
}

func TestFreePortIsBindable(t *testing.T) {
	t.Parallel()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if port <= 0 || port > 65535 {
		t.Fatalf("port %d", port)
	}
}

func startFirestore(t *testing.T, opts Options) *Emulator {
	t.Helper()
	e, err := StartFirestore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// liveGroupProcs lists the non-zombie processes of group pgid as
// "PID COMM", from ps rather than from the code under test. (ps -g would
// select by session on Linux, not by process group.)
func liveGroupProcs(t *testing.T, pgid int) []string {
	t.Helper()
	out, err := exec.Command("ps", "-A", "-o", "pid=,pgid=,stat=,comm=").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	var procs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != strconv.Itoa(pgid) || strings.HasPrefix(f[2], "Z") {
			continue
		}
		procs = append(procs, f[0]+" "+strings.Join(f[3:], " "))
	}
	return procs
}

func containsComm(procs []string, comm string) bool {
	for _, p := range procs {
		if strings.HasSuffix(p, " "+comm) {
			return true
		}
	}
	return false
}

func createDoc(t *testing.T, host, project, collection, id string) {
	t.Helper()
	mustDo(t, http.MethodPost, fmt.Sprintf("http://%s/v1/projects/%s/databases/(default)/documents/%s?documentId=%s", host, project, collection, id),
		`{"fields":{"a":{"stringValue":"x"}}}`, http.StatusOK)
}

func listDocs(t *testing.T, host, project, collection string) []string {
	t.Helper()
	body := mustDo(t, http.MethodGet, fmt.Sprintf("http://%s/v1/projects/%s/databases/(default)/documents/%s", host, project, collection), "", http.StatusOK)
	var names []string
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if n, ok := strings.CutPrefix(line, `"name": "`); ok {
			names = append(names, strings.TrimSuffix(strings.TrimSuffix(n, ","), `"`))
		}
	}
	return names
}

func mustDo(t *testing.T, method, url, body string, want int) string {
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
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	return string(b)
}

func errorsOf(errs ...error) string {
	var s []string
	for _, err := range errs {
		if err != nil {
			s = append(s, err.Error())
		}
	}
	return strings.Join(s, "; ")
}

// TestFreePortIsBelowTheEphemeralRange: a port the kernel could hand to
// any outgoing connection meanwhile is not one a child process should be
// told to bind.
func TestFreePortIsBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if low-fixedPortsFrom >= 1000 && (port < fixedPortsFrom || port >= low) {
			t.Fatalf("port %d, want one in [%d, %d)", port, fixedPortsFrom, low)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		l.Close()
	}
}

//go:build unix

// Package emulatortest is the one test harness every package shares for
// the Firestore and Pub/Sub emulators:
//
//	func TestMain(m *testing.M) { emulatortest.Main(m) }
//
// and emulatortest.ProjectID(t) for each test's own project. The
// emulators start on the first test that asks for them (ProjectID,
// FirestoreOptions or Hosts), so a package's unit tests run in
// milliseconds and need no gcloud. Firestore clients made with
// FirestoreOptions(t) have their queries checked, once the package's
// tests pass, against the indexes terraform/ declares.
//
// Set EMULATORTEST_LOGS=1 to see the emulators' own logs on stderr.
package emulatortest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator"
)

const (
	firestoreEnv = "FIRESTORE_EMULATOR_HOST"
	pubsubEnv    = "PUBSUB_EMULATOR_HOST"
)

// Main runs a package's tests. The first test that asks for the
// emulators starts them, once for the package: emulators named by
// FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST are reused (after
// checking they answer), the missing ones are started and exported in
// those variables. A test that needs them and cannot have them fails
// naming why, and so does every later one (never a skip). After m.Run
// Main stops what it started, and exits with m.Run's code, or 1 when the
// emulators could not be stopped cleanly, or when the tests passed but
// sent a query that needs a Firestore index terraform/ does not declare.
func Main(m *testing.M) {
	os.Exit(run(m))
}

// harness is the package's one lazy start of the emulators.
var harness struct {
	running atomic.Bool // Main is running the tests
	once    sync.Once
	started bool // once ran ensure; read after once.Do
	stop    func() error
	err     error
	hosts   map[string]string // variable → the emulator it names
}

func run(m *testing.M) int {
	harness.running.Store(true)
	code := m.Run()
	harness.running.Store(false)
	// Spent here, the once can no longer start emulators that nothing
	// would stop, whatever a leaked goroutine calls.
	harness.once.Do(func() { harness.err = errors.New("the package's tests have ended") })
	if !harness.started || harness.err != nil {
		return code
	}
	if code == 0 {
		if err := checkIndexes(&recorder); err != nil {
			fmt.Fprintf(os.Stderr, "emulatortest: %v\n", err)
			code = 1
		}
	}
	if err := harness.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "emulatortest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Hosts returns the hosts of the package's Firestore and Pub/Sub
// emulators, starting them if no test has yet, for tests that dial them
// directly. FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST name them
// too once it returns.
func Hosts(t testing.TB) (firestore, pubsub string) {
	t.Helper()
	require(t)
	return harness.hosts[firestoreEnv], harness.hosts[pubsubEnv]
}

// require starts the emulators on the first call and fails t when they
// are not there.
func require(t testing.TB) {
	t.Helper()
	if !harness.running.Load() {
		t.Fatal("emulatortest: the emulators run under emulatortest.Main: call it from the package's TestMain")
	}
	harness.once.Do(func() {
		harness.started = true
		harness.stop, harness.err = ensure(context.Background())
		if harness.err == nil {
			harness.hosts = map[string]string{firestoreEnv: os.Getenv(firestoreEnv), pubsubEnv: os.Getenv(pubsubEnv)}
		}
	})
	if harness.err != nil {
		t.Fatalf("emulatortest: %v", harness.err)
	}
	// The first test to ask may have set a variable with t.Setenv, whose
	// cleanup puts back what was there before the emulators started.
	for env, host := range harness.hosts {
		if os.Getenv(env) == "" {
			if err := os.Setenv(env, host); err != nil {
				t.Fatalf("emulatortest: set %s: %v", env, err)
			}
		}
	}
}

// ensure makes both variables point at answering emulators and returns
// how to stop the ones it started.
func ensure(ctx context.Context) (stop func() error, err error) {
	opts := emulator.Options{}
	if os.Getenv("EMULATORTEST_LOGS") == "1" {
		opts.Stdout, opts.Stderr = os.Stderr, os.Stderr
	}
	type want struct {
		env   string
		start func(context.Context, emulator.Options) (*emulator.Emulator, error)
	}
	var missing []want
	for _, w := range []want{{firestoreEnv, emulator.StartFirestore}, {pubsubEnv, emulator.StartPubSub}} {
		host := os.Getenv(w.env)
		if host == "" {
			missing = append(missing, w)
			continue
		}
		// A stale variable would otherwise fail every test with a
		// connection error that does not say why.
		if err := answers(ctx, host); err != nil {
			return nil, fmt.Errorf("%s=%s is set but no emulator answers there: %w", w.env, host, err)
		}
	}

	started := make([]*emulator.Emulator, len(missing))
	errs := make([]error, len(missing))
	done := make(chan int)
	for i, w := range missing {
		go func() {
			started[i], errs[i] = w.start(ctx, opts)
			done <- i
		}()
	}
	for range missing {
		<-done
	}
	stop = func() error {
		var errs []error
		for _, e := range started {
			errs = append(errs, e.Stop()) // nil-safe for the failed ones
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("stop emulators: %w", err)
		}
		return nil
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(fmt.Errorf("start emulators: %w", err), stop())
	}
	for i, w := range missing {
		if err := os.Setenv(w.env, started[i].Host); err != nil {
			return nil, errors.Join(fmt.Errorf("set %s: %w", w.env, err), stop())
		}
	}
	return stop, nil
}

func answers(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "Ok" {
		return fmt.Errorf("GET / answered %s %q, not 200 Ok", resp.Status, body)
	}
	return nil
}

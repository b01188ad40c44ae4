//go:build unix

// Package emulatortest is the one test harness every package shares for
// the Firestore and Pub/Sub emulators:
//
//	func TestMain(m *testing.M) { emulatortest.Main(m) }
//
// and emulatortest.ProjectID(t) for each test's own project. Firestore
// clients made with FirestoreOptions(t) have their queries checked, once
// the package's tests pass, against the indexes terraform/ declares.
//
// Set EMULATORTEST_LOGS=1 to see the emulators' own logs on stderr.
package emulatortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator"
)

const (
	firestoreEnv = "FIRESTORE_EMULATOR_HOST"
	pubsubEnv    = "PUBSUB_EMULATOR_HOST"
)

// Main runs a package's tests against the emulators. Emulators named by
// FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST are reused (after
// checking they answer); the missing ones are started once for the
// package, exported in those variables, and stopped after m.Run. It
// exits with m.Run's code, or 1 when the emulators cannot be started or
// stopped cleanly (tests fail rather than skip without them), or when
// the tests passed but sent a query that needs a Firestore index
// terraform/ does not declare.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	stop, err := ensure(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "emulatortest: %v\n", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := checkIndexes(&recorder); err != nil {
			fmt.Fprintf(os.Stderr, "emulatortest: %v\n", err)
			code = 1
		}
	}
	if err := stop(); err != nil {
		fmt.Fprintf(os.Stderr, "emulatortest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
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

var (
	runID   = newRunID()
	counter atomic.Uint64
)

// newRunID tells runs apart, so tests reusing long-lived emulators (via
// the environment variables) never see a previous run's data.
func newRunID() string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported systems; the pid and
		// time still separate runs well enough.
		return strconv.FormatInt(int64(os.Getpid())^time.Now().UnixNano(), 36)[:6]
	}
	return hex.EncodeToString(b)
}

// maxProjectID is Google Cloud's limit, which the Pub/Sub emulator
// enforces on resource names.
const maxProjectID = 30

// ProjectID returns a project id no other test of this or any other run
// uses, so tests sharing an emulator never see each other's data. It
// reads like the test's name for debugging and is a valid Google Cloud
// project id (lower-case letters, digits and hyphens, at most 30).
func ProjectID(t testing.TB) string {
	t.Helper()
	suffix := "-" + runID + "-" + strconv.FormatUint(counter.Add(1), 36)
	name := slug(t.Name())
	if room := maxProjectID - len("t-") - len(suffix); len(name) > room {
		name = strings.TrimRight(name[:room], "-")
	}
	if name == "" {
		return "t" + suffix
	}
	return "t-" + name + suffix
}

// slug lower-cases s and turns every run of other characters into one
// hyphen, dropping the "test" prefix every test name has.
func slug(s string) string {
	s = strings.TrimPrefix(strings.ToLower(s), "test")
	var b strings.Builder
	hyphen := false
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			hyphen = false
		} else if !hyphen && b.Len() > 0 {
			b.WriteByte('-')
			hyphen = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

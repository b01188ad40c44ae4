//go:build unix

package emulatortest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

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
// uses, so tests sharing an emulator never see each other's data, and
// starts the package's emulators if no test has yet: a project id is
// only of use on them. It reads like the test's name for debugging and
// is a valid Google Cloud project id (lower-case letters, digits and
// hyphens, at most 30).
func ProjectID(t testing.TB) string {
	t.Helper()
	require(t)
	return projectID(t.Name())
}

// projectID is a fresh project id that reads like testName.
func projectID(testName string) string {
	suffix := "-" + runID + "-" + strconv.FormatUint(counter.Add(1), 36)
	name := slug(testName)
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

package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/bench"
)

// TestBenchRunsEndToEnd runs the whole benchmark on a tiny scale (1 s
// phases, concurrency 4, one repetition of 50 messages' whole life, a
// 500-contact batch, 200 messages paced at 80/s, single sends beside a
// 1,000-contact batch, a 2,000-message backlog for sweep to recover)
// against a stack of its own, and checks that every figure is there and
// sane. It starts
// two emulators and ten function processes and warms the JVMs up, which
// takes about two minutes on two cores: -short skips it.
func TestBenchRunsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole dev stack and runs every phase: about a minute")
	}
	// devstack.Start points this process at its own emulators; the
	// package's other tests keep theirs.
	t.Setenv("FIRESTORE_EMULATOR_HOST", os.Getenv("FIRESTORE_EMULATOR_HOST"))
	t.Setenv("PUBSUB_EMULATOR_HOST", os.Getenv("PUBSUB_EMULATOR_HOST"))
	exe := filepath.Join(t.TempDir(), "templategw")
	build := exec.Command("go", "build", "-o", exe, "../../cmd/templategw")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build templategw: %v", err)
	}
	var progress, logs bytes.Buffer
	b, err := bench.New(bench.Options{
		Exe: exe, Duration: time.Second, Concurrency: 4, Contacts: 500, PaceMessages: 200, FairnessContacts: 1000,
		RecoveryMessages: 2000, LifeMessages: 50, Repetitions: 1, Progress: &progress, Logs: &logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	fig, err := b.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v\nprogress:\n%s\nlogs (tail):\n%s", err, progress.String(), tail(logs.String(), 4000))
	}
	t.Logf("the run took %s", time.Since(start).Round(time.Second))

	var report bytes.Buffer
	if err := fig.WriteReport(&report); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", report.String())
	var raw bytes.Buffer
	if err := fig.WriteJSON(&raw); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	num := func(key string) float64 {
		t.Helper()
		v, ok := got[key].(float64)
		if !ok {
			t.Errorf("%s is %v (%T), want a number", key, got[key], got[key])
		}
		return v
	}
	for _, key := range []string{"acceptPerSec", "rawCreatePerSec", "acceptP50Ms", "acceptP99Ms", "acceptHalfLoadPerSec",
		"lifeRpcsPerMessage", "pendingRpcsPerMessage", "lifeReadsPerMessage", "lifeWritesPerMessage", "costPer1MUSD", "costPer1MRegionalUSD",
		"lifePublishesPerMessage", "lifeFunctionCpuMsPerMessage",
		"emulatorCpuPerMessageRatio", "rawCreateEmulatorCpuMs", "gatewayCpuPerMessageRatio", "rawClientCpuMsPerMessage",
		"emkt100kAnswerSeconds", "emkt100kAddedPeakMiB", "emkt100kDispatchSeconds",
		"pacingAchievedRatio", "pacingAchievedPerSec", "singleDuringBulkP99Ms", "fairnessSingles", "sweepRecoveryPages"} {
		if v := num(key); v <= 0 {
			t.Errorf("%s = %v, want > 0", key, v)
		}
	}
	for _, key := range []string{"commitsPerMessage", "e2ePerSec", "acceptRawHalfP99Ms", "rawTxPerSec", "storeAcceptPerSec", "acceptSweep", "cpuMsPerOp"} {
		if _, ok := got[key]; ok {
			t.Errorf("%s is still in the JSON", key)
		}
	}
	num("lifeDeletesPerMessage")
	// Nothing lost: every message of the life phase read, every callback
	// of its status changes received and signed, the pending round's all
	// pending; every paced message sent; every backlog message
	// republished, once, within the one sweep run. Small runs are what CI can
	// afford, not the figures: a 200-message broadcast is over in under
	// three seconds, too short for the instances' shares to settle, so the
	// pacing targets are not held to here.
	for key, want := range map[string]float64{
		"lifeMessages": 50, "emktContacts": 500, "pacingMessages": 200, "acceptErrors": 0,
		"lifeNotRead": 0, "lifeCallbacksMissing": 0, "lifeCallbacksUnsigned": 0, "pendingNotReached": 0,
		"pacingFailed": 0, "pacingUnknown": 0, "pacingUnsettled": 0, "fairnessNotPending": 0, "fairnessSendErrors": 0,
		"sweepRecoveryMessages": 2000, "sweepRepublishedTwice": 0, "sweepRecoveryMissing": 0,
	} {
		if v := num(key); v != want {
			t.Errorf("%s = %v, want %v", key, v, want)
		}
	}
	if s, small := num("sweepRecoverySeconds"), num("sweepSmallTenantLastSeconds"); s <= 0 || small <= 0 || small > s {
		t.Errorf("recovered in %v s, the small tenant's last after %v s: want both positive, the small tenant's within the run", s, small)
	}
	if share := num("pacing130429Share"); share < 0 || share > 0.5 {
		t.Errorf("pacing130429Share = %v, want between 0 and 0.5", share)
	}
	// The callbacks of the status changes (pending, sent, delivered, read),
	// all received above, are made by dispatch and whatsapp themselves: the
	// callbacks function is for their retries.
	inv, _ := got["lifeInvocationsPerMessage"].(map[string]any)
	for fn, want := range map[string]float64{"templates": 1, "dispatch": 1, "whatsapp": 3} {
		if v, _ := inv[fn].(float64); v < want {
			t.Errorf("%s invoked %v times per message, want at least %v", fn, v, want)
		}
	}
	if got["emkt100kDispatchedExactlyOnce"] != true {
		t.Errorf("emkt100kDispatchedExactlyOnce = %v, want true", got["emkt100kDispatchedExactlyOnce"])
	}
	for _, key := range []string{"lifeCallsByMethod", "costPer1MBreakdown"} {
		if m, _ := got[key].(map[string]any); len(m) == 0 {
			t.Errorf("%s = %v, want an object", key, got[key])
		}
	}
	if checks, _ := got["checks"].([]any); len(checks) != 12 {
		t.Errorf("%d checks, want the 11 of DESIGN §8 the benchmark checks and sweep's recovery", len(checks))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

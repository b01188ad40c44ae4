// Command bench measures templategw against DESIGN §8 in one run: it
// starts the dev stack, measures the Firestore emulator's raw create rate
// as a baseline, then the gateway, and prints each gateway figure beside
// its DESIGN §8 target.
//
//	go run ./cmd/bench                       # the default run, about ten minutes
//	go run ./cmd/bench --json /tmp/bench.json
//	go run ./cmd/bench --duration 1s --contacts 5000   # a quick look
//	go run ./cmd/bench --only pacing,fairness --json /tmp/pacing.json
//	go run ./cmd/bench --only recovery --json /tmp/recovery.json
//	go run ./cmd/bench --only life --json /tmp/life.json   # costs per message, about two minutes
//
// docs/benchmarks.md explains each figure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	// Registers the functions this binary serves as the stack's processes.
	_ "github.com/templategw/templategw"

	"github.com/templategw/templategw/internal/bench"
	"github.com/templategw/templategw/internal/devstack"
)

func main() {
	// The life phase starts this binary again to replay its calls with a
	// raw client.
	bench.MaybeReplay()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, stdout io.Writer) error {
	// The stack's functions run from this very binary, as the dev
	// command's do from templategw's, so one `go run` builds everything
	// and --profile can reach into each function process.
	if len(args) > 0 && args[0] == "serve" {
		return serve(ctx)
	}
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	fl.SetOutput(stdout)
	duration := fl.Duration("duration", 3*time.Second, "length of each measured phase")
	conc := fl.Int("concurrency", 32, "the closed loops' concurrency: the raw creates' and accept's capacity")
	contacts := fl.Int("contacts", bench.MaxContacts, "contacts in the emkt 50.01")
	jsonOut := fl.String("json", "", "also write the figures as JSON to this file")
	profile := fl.String("profile", "", "write CPU profiles of every function and of the benchmark itself, per phase, into this directory")
	only := fl.String("only", "", "run only these phases, comma-separated, of "+strings.Join(bench.Phases, ",")+" (accept and life bring the baselines)")
	paceMessages := fl.Int("pace-messages", bench.DefaultPaceMessages, "messages in the pacing phase's broadcast")
	fairnessContacts := fl.Int("fairness-contacts", bench.DefaultFairnessContacts, "contacts in the broadcast the fairness phase's single sends compete with")
	recoveryMessages := fl.Int("recovery-messages", bench.DefaultRecoveryMessages, "accepted, never-published messages in the backlog the recovery phase's one sweep run republishes")
	lifeMessages := fl.Int("life-messages", bench.DefaultLifeMessages, "messages one repetition of the life phase sends through their whole life")
	repetitions := fl.Int("repetitions", bench.DefaultRepetitions, "how many times the life phase repeats (its figures are the median and the range)")
	logs := fl.String("logs", "", "write the functions' and emulators' output to this file")
	fl.Usage = func() {
		fmt.Fprintln(stdout, "usage: go run ./cmd/bench [flags]\n\nMeasures templategw against DESIGN §8: costs per message and latencies at a share of the gateway's own capacity.\n\nflags:")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	opts := bench.Options{
		Exe: exe, Duration: *duration, Concurrency: *conc, Contacts: *contacts, Progress: os.Stderr, ProfileDir: *profile,
		PaceMessages: *paceMessages, FairnessContacts: *fairnessContacts, RecoveryMessages: *recoveryMessages,
		LifeMessages: *lifeMessages, Repetitions: *repetitions,
	}
	if *only != "" {
		opts.Only = strings.Split(*only, ",")
	}
	if *logs != "" {
		f, err := os.Create(*logs)
		if err != nil {
			return err
		}
		defer f.Close()
		opts.Logs = f
	}
	b, err := bench.New(opts)
	if err != nil {
		return err
	}
	fig, err := b.Run(ctx)
	if err != nil {
		return err
	}
	if err := fig.WriteReport(stdout); err != nil {
		return err
	}
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			return err
		}
		if err := errors.Join(fig.WriteJSON(f), f.Close()); err != nil {
			return fmt.Errorf("write %s: %w", *jsonOut, err)
		}
	}
	return nil
}

// serve runs the function FUNCTION_TARGET names on PORT, as `templategw
// serve` does; with bench.ProfileEnv set it also answers the benchmark's
// profiling requests.
func serve(ctx context.Context) error {
	if err := bench.ServeProfiling(os.Getenv("FUNCTION_TARGET")); err != nil {
		return err
	}
	return devstack.Serve(ctx)
}

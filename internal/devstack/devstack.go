// Package devstack runs the whole gateway on one machine: the Firestore
// and Pub/Sub emulators, every function in its own process under its own
// FUNCTION_TARGET, a front door that mirrors
// https://REGION-PROJECT.cloudfunctions.net/<function>/, the emulator's
// push subscription to dispatch, the sandbox provider and the demo tenant.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"github.com/templategw/templategw/emulator"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/store"
)

// Project is the dev stack's Google Cloud project id (any id works on the
// emulators).
const Project = "templategw-dev"

// Function is one Cloud Function of the stack.
type Function struct {
	Name  string // FUNCTION_TARGET and the front door's path prefix
	Topic string // for CloudEvent functions: the topic pushed to it
}

// Functions are the functions function.go registers, in start order.
var Functions = []Function{
	{Name: "templates"},
	{Name: "messages"},
	{Name: "dispatch", Topic: "dispatch"},
}

// Options configure the stack.
type Options struct {
	Port      int    // front door port
	DataDir   string // keeps the emulators' data across runs when set
	DemoToken string // the demo tenant's bearer token
	Exe       string // the binary whose "serve" subcommand runs one function
	Out       io.Writer
	Logs      io.Writer // functions' and emulators' logs
}

// Run starts the stack, prints how to use it and serves until ctx ends;
// then it stops every process it started.
func Run(ctx context.Context, opts Options) (err error) {
	start := time.Now()
	door, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(opts.Port))
	if err != nil {
		return fmt.Errorf("front door port %d: %w", opts.Port, err)
	}
	defer door.Close()

	fmt.Fprintln(opts.Out, "starting the Firestore and Pub/Sub emulators…")
	emu, err := emulator.Start(ctx, emulator.Options{DataDir: opts.DataDir, Project: Project, Stdout: opts.Logs, Stderr: opts.Logs})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, emu.Stop()) }()
	// The stack's own clients (seeding, Pub/Sub wiring) find the emulators
	// the way every Google client library does.
	for _, kv := range emu.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}

	sbURL, stopSandbox, err := startSandbox()
	if err != nil {
		return err
	}
	defer stopSandbox()

	if err := seed(ctx, emu, opts.DemoToken); err != nil {
		return err
	}

	env := append(emu.Env(),
		"GOOGLE_CLOUD_PROJECT="+Project,
		"META_BASE_URL="+sbURL,
		demo.AccessTokenEnv+"="+demo.AccessToken,
		"CACHE_TTL=5s",
	)
	procs, err := startFunctions(ctx, opts.Exe, env, opts.Logs)
	if err != nil {
		return err
	}
	defer procs.stop()

	if err := wirePubSub(ctx, emu, procs); err != nil {
		return err
	}

	srv := &http.Server{Handler: FrontDoor(procs.urls()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(door) }()
	defer srv.Close()

	base := "http://" + door.Addr().String()
	printWelcome(opts.Out, base, sbURL, emu, opts.DemoToken, time.Since(start))

	select {
	case <-ctx.Done():
		fmt.Fprintln(opts.Out, "\nstopping…")
		return nil
	case err := <-procs.exited:
		return fmt.Errorf("a function stopped unexpectedly: %w", err)
	}
}

// startSandbox serves the sandbox provider on a free loopback port and
// returns its base URL and how to stop it.
func startSandbox() (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("sandbox listener: %w", err)
	}
	srv := &http.Server{Handler: sandbox.New(sandbox.Default()).Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

func seed(ctx context.Context, emu *emulator.Stack, token string) error {
	fs, err := firestore.NewClient(ctx, Project)
	if err != nil {
		return fmt.Errorf("firestore client: %w", err)
	}
	defer fs.Close()
	return demo.Seed(ctx, store.New(fs), demo.TenantID, token)
}

// wirePubSub creates each CloudEvent function's topic and the push
// subscription that stands in for its Eventarc trigger.
func wirePubSub(ctx context.Context, emu *emulator.Stack, procs *processes) error {
	ps, err := pubsub.NewClient(ctx, Project)
	if err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	defer ps.Close()
	for _, f := range Functions {
		if f.Topic == "" {
			continue
		}
		if err := queue.EnsureTopic(ctx, ps, f.Topic); err != nil {
			return err
		}
		err := queue.EnsurePush(ctx, ps, queue.Push{
			Name: f.Name + "-push", Topic: f.Topic,
			Endpoint:    queue.PushEndpoint(procs.url(f.Name), Project, f.Topic),
			AckDeadline: 60 * time.Second, MinBackoff: time.Second, MaxBackoff: 30 * time.Second,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func printWelcome(w io.Writer, base, sbURL string, emu *emulator.Stack, token string, took time.Duration) {
	fmt.Fprintf(w, `
templategw dev stack is up (%.1fs)

  front door  %s/templates/   %s/messages/
  sandbox     %s  (what Meta received: %s/_sandbox/requests)
  emulators   FIRESTORE_EMULATOR_HOST=%s PUBSUB_EMULATOR_HOST=%s  project %s
  demo        tenant %s, token %s, channel %s

Send a template:

curl -sS -X POST %s/templates \
  -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
  -d '{"templateId":"welcome","phoneNumber":"5511987654321","firstName":"Maria","params":{"1":"Maria","2":"templategw"}}'

Then follow it (use the data.message_id it answered):

curl -sS %s/messages/MESSAGE_ID -H 'Authorization: Bearer %s'

Ctrl-C stops everything.
`, took.Seconds(), base, base, sbURL, sbURL, emu.Firestore.Host, emu.PubSub.Host, Project,
		demo.TenantID, token, demo.ChannelID, base, token, base, token)
}

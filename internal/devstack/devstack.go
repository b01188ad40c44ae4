// Package devstack runs the whole gateway on one machine: the Firestore
// and Pub/Sub emulators, every function in its own process under its own
// FUNCTION_TARGET, a front door that mirrors
// https://REGION-PROJECT.cloudfunctions.net/<function>/, the emulator's
// push subscription to dispatch, the sandbox provider and the demo tenant.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/templategw/templategw/internal/app"
	"github.com/templategw/templategw/internal/config"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/store"
)

// Project is the dev stack's Google Cloud project id (any id works on the
// emulators).
const Project = "templategw-dev"

// The dev stack's own settings for the functions.
const (
	// SweepEvery is how often the stack fires sweep, as Cloud Scheduler
	// does in the cloud.
	SweepEvery = 30 * time.Second
	// VerifyToken is the whatsapp function's verification token.
	VerifyToken = "dev-verify-token"
)

// Options configure the stack.
type Options struct {
	Port      int    // front door port; 0 picks a free one
	DataDir   string // keeps the emulators' data across runs when set
	DemoToken string // the demo tenant's bearer token
	Exe       string // the binary whose "serve" subcommand runs one function
	Out       io.Writer
	Logs      io.Writer // functions' and emulators' logs
	// Env is added last to every function's environment, so it overrides
	// the stack's own settings (a benchmark pointing the functions at a
	// counting proxy in front of the Firestore emulator, say).
	Env []string
	// SweepEvery is how often the stack fires sweep; 0 means SweepEvery.
	// A fault test sweeps more often than a person needs to.
	SweepEvery time.Duration
}

// Stack is a running dev stack.
type Stack struct {
	// Base is the front door's URL, e.g. http://127.0.0.1:8080.
	Base string
	// SandboxURL is the sandbox provider's URL; Sandbox is the sandbox
	// itself, for failure injection and what it received.
	SandboxURL string
	Sandbox    *sandbox.Sandbox
	// Emulators are the Firestore and Pub/Sub emulators.
	Emulators *emulator.Stack

	opts    Options // what Start was given, for restarting parts of the stack
	procs   *processes
	closers []func() error // in reverse start order
}

// Run starts the stack, prints how to use it and serves until ctx ends;
// then it stops every process it started.
func Run(ctx context.Context, opts Options) (err error) {
	start := time.Now()
	s, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Stop()) }()
	printWelcome(opts.Out, s.Base, s.SandboxURL, paths(s.procs.urls()), s.Emulators, opts.DemoToken, time.Since(start))
	select {
	case <-ctx.Done():
		fmt.Fprintln(opts.Out, "\nstopping…")
		return nil
	case err := <-s.Exited():
		return fmt.Errorf("a function stopped unexpectedly: %w", err)
	}
}

// Start starts the emulators, the sandbox, the demo tenant, every function
// in its own process, the Pub/Sub push subscriptions, the front door and
// the sweep ticker. Stop stops them all; a failed Start stops what it
// started.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	s := &Stack{opts: opts}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
		}
	}()
	door, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(opts.Port))
	if err != nil {
		return nil, fmt.Errorf("front door port %d: %w", opts.Port, err)
	}
	s.closers = append(s.closers, func() error { door.Close(); return nil })
	s.Base = "http://" + door.Addr().String()

	fmt.Fprintln(opts.Out, "starting the Firestore and Pub/Sub emulators…")
	emu, err := emulator.Start(ctx, emulator.Options{DataDir: opts.DataDir, Project: Project, Stdout: opts.Logs, Stderr: opts.Logs})
	if err != nil {
		return nil, err
	}
	s.Emulators = emu
	s.closers = append(s.closers, emu.Stop)
	// The stack's own clients (seeding, Pub/Sub wiring) find the emulators
	// the way every Google client library does.
	for _, kv := range emu.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}

	sb, sbURL, stopSandbox, err := startSandbox(s.Base + "/whatsapp/")
	if err != nil {
		return nil, err
	}
	s.Sandbox, s.SandboxURL = sb, sbURL
	s.closers = append(s.closers, func() error { stopSandbox(); return nil })

	if err := seed(ctx, emu, opts.DemoToken); err != nil {
		return nil, err
	}

	env := append(emu.Env(),
		"GOOGLE_CLOUD_PROJECT="+Project,
		"META_BASE_URL="+sbURL,
		demo.AccessTokenEnv+"="+demo.AccessToken,
		"CACHE_TTL=5s",
		"WHATSAPP_APP_SECRET="+sandbox.DefaultAppSecret,
		"WHATSAPP_VERIFY_TOKEN="+VerifyToken,
		// Tenants' callback receivers on this machine are the point of a
		// dev stack; private ranges stay refused.
		"CALLBACK_ALLOW_LOOPBACK=true",
		// A key of the stack's own, new at every start: a restart signs
		// the console's browsers out, as a new key does in the cloud.
		"CONSOLE_SESSION_KEY="+sessionKey(),
	)
	procs, err := startFunctions(ctx, opts.Exe, append(env, opts.Env...), opts.Logs)
	if err != nil {
		return nil, err
	}
	s.procs = procs
	s.closers = append(s.closers, func() error { procs.stop(); return nil })

	if err := wirePubSub(ctx, procs); err != nil {
		return nil, err
	}

	srv := &http.Server{Handler: FrontDoor(procs.urls()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(door) }()
	s.closers = append(s.closers, srv.Close)

	sweepCtx, stopSweep := context.WithCancel(context.Background())
	every := opts.SweepEvery
	if every <= 0 {
		every = SweepEvery
	}
	go fireSweep(sweepCtx, every, opts.Logs)
	s.closers = append(s.closers, func() error { stopSweep(); return nil })
	return s, nil
}

// sessionKey is a random console session key.
func sessionKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Stop stops everything Start started, the last started first.
func (s *Stack) Stop() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Exited reports a function process that ended without Stop or Kill.
func (s *Stack) Exited() <-chan error { return s.procs.exited }

// Kill ends the named function's process with SIGKILL, as a crash would.
func (s *Stack) Kill(name string) error { return s.procs.kill(name) }

// Restart starts a killed function again where it was reachable before.
func (s *Stack) Restart(ctx context.Context, name string) error { return s.procs.restart(ctx, name) }

// PID is the named function's process id, for reading its memory.
func (s *Stack) PID(name string) int { return s.procs.pid(name) }

// PushSubscription names the push subscription that feeds CloudEvent
// function fn from its topic.
func PushSubscription(fn string) string { return fn + "-push" }

// FunctionURL is where the named function's own server listens, the front
// door aside (CloudEvent functions are reached only this way).
func (s *Stack) FunctionURL(name string) string { return s.procs.url(name) }

// startSandbox serves the sandbox provider on a free loopback port, posting
// its webhooks to webhookURL, and returns it, its base URL and how to stop
// it.
func startSandbox(webhookURL string) (*sandbox.Sandbox, string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("sandbox listener: %w", err)
	}
	cfg := sandbox.Default()
	cfg.WebhookURL = webhookURL
	sb := sandbox.New(cfg)
	srv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return sb, "http://" + l.Addr().String(), func() { _ = srv.Close(); sb.Close() }, nil
}

// fireSweep publishes a tick to the sweep topic every period, as Cloud
// Scheduler does in the cloud, until ctx ends.
func fireSweep(ctx context.Context, every time.Duration, logs io.Writer) {
	ps, err := pubsub.NewClient(ctx, Project)
	if err != nil {
		fmt.Fprintf(logs, "sweep ticker: pubsub client: %v\n", err)
		return
	}
	defer ps.Close()
	pub := queue.NewPublisher(ps, config.Defaults().Sweep.Topic)
	defer pub.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			// Bounded by the period: while Pub/Sub is down the client
			// retries a publish for a minute, and a tick stuck that long
			// would hold back the ticks after Pub/Sub returns.
			pctx, cancel := context.WithTimeout(ctx, every)
			err := pub.PublishJSON(pctx, map[string]string{"source": "devstack"}, nil)
			cancel()
			if err != nil && ctx.Err() == nil {
				fmt.Fprintf(logs, "sweep ticker: %v\n", err)
			}
		}
	}
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
func wirePubSub(ctx context.Context, procs *processes) error {
	ps, err := pubsub.NewClient(ctx, Project)
	if err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	defer ps.Close()
	attempts := config.Defaults().Callback.MaxAttempts
	for _, f := range app.Functions {
		if f.Kind != app.CloudEvent {
			continue
		}
		for _, topic := range []string{f.Topic, f.DeadLetter} {
			if topic == "" {
				continue
			}
			if err := queue.EnsureTopic(ctx, ps, topic); err != nil {
				return err
			}
		}
		push := queue.Push{
			Name: PushSubscription(f.Name), Topic: f.Topic,
			Endpoint:    queue.PushEndpoint(procs.url(f.Name), Project, f.Topic),
			AckDeadline: 60 * time.Second, MinBackoff: time.Second, MaxBackoff: 30 * time.Second,
		}
		if f.DeadLetter != "" {
			push.DeadLetterTopic, push.MaxDeliveryAttempts = f.DeadLetter, attempts
			if err := queue.EnsurePull(ctx, ps, f.DeadLetter+"-keep", f.DeadLetter); err != nil {
				return err
			}
		}
		err := queue.EnsurePush(ctx, ps, push)
		if err != nil {
			return err
		}
	}
	return nil
}

func printWelcome(w io.Writer, base, sbURL string, doors []string, emu *emulator.Stack, token string, took time.Duration) {
	fmt.Fprintf(w, `
templategw dev stack is up (%[1]s)

  front door  %[2]s%[11]s (whatsapp is Meta's webhook)
  console     %[2]s/console/  (sign in with the demo token %[8]s)
  sandbox     %[3]s  (what Meta received: %[3]s/_sandbox/requests, what it posted back: %[3]s/_sandbox/webhooks)
  emulators   FIRESTORE_EMULATOR_HOST=%[4]s PUBSUB_EMULATOR_HOST=%[5]s  project %[6]s
  demo        tenant %[7]s, token %[8]s, channel %[9]s; sweep runs every %[10]s

Send a template:

curl -sS -X POST %[2]s/templates \
  -H 'Authorization: Bearer %[8]s' -H 'Content-Type: application/json' \
  -d '{"templateId":"welcome","phoneNumber":"5511987654321","firstName":"Maria","params":{"1":"Maria","2":"templategw"}}'

Then follow it (use the data.message_id it answered): the sandbox's webhooks
take it from pending to sent, delivered and read within a second or two.
Send again to the same number: the conversation is open, so it answers
200 "Sent" with data.conversation_id.

curl -sS %[2]s/messages/MESSAGE_ID -H 'Authorization: Bearer %[8]s'

Make the contact reply (opens its 24 h customer-service window):

curl -sS -X POST %[3]s/_sandbox/reply -d '{"from":"5511987654321","text":"oi"}'

Ctrl-C stops everything.
`, fmt.Sprintf("%.1fs", took.Seconds()), base, sbURL, emu.Firestore.Host, emu.PubSub.Host, Project,
		demo.TenantID, token, demo.ChannelID, SweepEvery, strings.Join(doors, "  "))
}

// Package admin is templategw's operator command line: tenants, tokens,
// channels, template sync from Meta and message lookups. It works on
// Firestore directly (the emulator when FIRESTORE_EMULATOR_HOST is set,
// else the project's database with Application Default Credentials), so it
// needs no function to be deployed and no tenant token.
//
// Every command takes its arguments and a writer for its output and
// returns an error, so tests run it without a process. Flags are checked
// before anything is read or written: a bad command changes nothing.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
)

// Secrets resolves a channel's secret reference to its Meta access token.
type Secrets interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// Options are the CLI's connections to the outside; zero fields take the
// defaults the binary uses.
type Options struct {
	// Open connects to a project's Firestore. Default: firestore.NewClient,
	// which honours FIRESTORE_EMULATOR_HOST and otherwise uses Application
	// Default Credentials.
	Open func(ctx context.Context, project string) (*firestore.Client, error)
	// Secrets resolves channels' secret references. Default: secret.Env,
	// as dispatch resolves them.
	Secrets Secrets
	// HTTPClient calls Meta; nil uses the provider's own.
	HTTPClient *http.Client
	// OpenPubSub connects to a project's Pub/Sub, for the commands that
	// hand messages back to dispatch or replay dead letters. Default:
	// pubsub.NewClient, which honours PUBSUB_EMULATOR_HOST.
	OpenPubSub func(ctx context.Context, project string) (*pubsub.Client, error)
}

// CLI runs the admin commands.
type CLI struct {
	opt    Options
	groups []group
}

// group is one command group (tenant, token, ...) and its subcommands. A
// group whose one command has no name is that command (usage).
type group struct {
	name, summary string
	commands      []command
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, out io.Writer) error
}

// New returns the CLI.
func New(opt Options) *CLI {
	if opt.Open == nil {
		opt.Open = func(ctx context.Context, project string) (*firestore.Client, error) {
			return firestore.NewClient(ctx, project)
		}
	}
	if opt.Secrets == nil {
		opt.Secrets = secret.Env{}
	}
	if opt.OpenPubSub == nil {
		opt.OpenPubSub = func(ctx context.Context, project string) (*pubsub.Client, error) {
			return pubsub.NewClient(ctx, project)
		}
	}
	c := &CLI{opt: opt}
	c.groups = []group{
		{"tenant", "create, update and list tenants", []command{
			{"create", "create a tenant and print its callback secret once", c.tenantCreate},
			{"update", "change a tenant's plan limit, conversation period, callback URL, country code or name", c.tenantUpdate},
			{"list", "list tenants", c.tenantList},
		}},
		{"token", "issue, list and revoke API keys", []command{
			{"create", "issue a key for a tenant's integration, with scopes, channels and expiry, and print it once", c.tokenCreate},
			{"list", "list a tenant's keys by prefix, with scopes, channels, expiry and last use", c.tokenList},
			{"revoke", "revoke a key, given the key, its id or its hash", c.tokenRevoke},
		}},
		{"channel", "add, list, connect and disconnect WhatsApp numbers", []command{
			{"add", "add a WhatsApp number to a tenant", c.channelAdd},
			{"list", "list a tenant's channels", c.channelList},
			{"connect", "let a channel send again and hand its held messages back to dispatch", c.channelConnect},
			{"disconnect", "stop a channel from sending", c.channelDisconnect},
		}},
		{"templates", "sync templates from Meta and list them", []command{
			{"sync", "pull every template of a channel's WABA from Meta and upsert them", c.templatesSync},
			{"list", "list a tenant's templates", c.templatesList},
		}},
		{"contacts", "show contacts and settle their marketing opt-out", []command{
			{"get", "show a contact and its marketing opt-out state", c.contactsGet},
			{"optout", "opt a contact out of marketing messages", c.contactsOptOut(true)},
			{"optin", "opt a contact back in to marketing messages", c.contactsOptOut(false)},
		}},
		{"batches", "follow and steer broadcasts (bulk sends): progress, pause, resume, cancel", []command{
			{"list", "list a tenant's broadcasts, newest first", c.batchesList},
			{"get", "show a broadcast: state, counts per state, rate and ETA", c.batchesGet},
			{"pause", batchesPauseSummary, c.batchesPause},
			{"resume", batchesResumeSummary, c.batchesResume},
			{"cancel", batchesCancelSummary, c.batchesCancel},
		}},
		{"messages", "look up sent messages", []command{
			{"get", "show one message: status, history, wamid, attempts, error", c.messagesGet},
			{"list", "list a tenant's messages, newest first", c.messagesList},
			{"resolve", "settle an unknown message by hand: sent, failed or resend", c.messagesResolve},
		}},
		{"deadletters", "replay what Pub/Sub dead-lettered", []command{
			{"replay", "pull a dead-letter subscription and republish each message to the topic it came from", c.deadlettersReplay},
		}},
		{"usage", "sum a tenant's billable messages of a month per channel and pricing category", []command{
			{"", "", c.usage},
		}},
	}
	return c
}

// Group names one command group for the binary's usage.
type Group struct {
	Name, Summary string
}

// Groups lists the command groups in the order the usage shows them.
func (c *CLI) Groups() []Group {
	out := make([]Group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, Group{g.name, g.summary})
	}
	return out
}

// errHelp tells Run that a command printed its help: a success, not an
// error, since the user asked for it.
var errHelp = errors.New("help shown")

// Run runs one admin command: args[0] is the group, args[1] the command,
// the rest its flags. Output goes to out; errors are returned, never
// printed.
func (c *CLI) Run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("no command group given")
	}
	var g *group
	for i := range c.groups {
		if c.groups[i].name == args[0] {
			g = &c.groups[i]
		}
	}
	if g == nil {
		return fmt.Errorf("unknown command group %q", args[0])
	}
	err := c.runGroup(ctx, g, args[1:], out)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func (c *CLI) runGroup(ctx context.Context, g *group, args []string, out io.Writer) error {
	if len(g.commands) == 1 && g.commands[0].name == "" {
		return g.commands[0].run(ctx, args, out)
	}
	names := make([]string, 0, len(g.commands))
	for _, cmd := range g.commands {
		names = append(names, cmd.name)
	}
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			return groupUsage(g, out)
		}
	}
	// Flags belong to a command, so a flag first means the command is missing.
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("%s: missing command, one of %s (see templategw %s --help)", g.name, strings.Join(names, ", "), g.name)
	}
	for _, cmd := range g.commands {
		if cmd.name == args[0] {
			return cmd.run(ctx, args[1:], out)
		}
	}
	return fmt.Errorf("%s: unknown command %q, want one of %s (see templategw %s --help)", g.name, args[0], strings.Join(names, ", "), g.name)
}

func groupUsage(g *group, out io.Writer) error {
	fmt.Fprintf(out, "usage: templategw %s <command> [flags]\n\n%s.\n\ncommands:\n", g.name, capitalize(g.summary))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, cmd := range g.commands {
		fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nRun 'templategw %s <command> --help' for a command's flags.\n", g.name)
	return errHelp
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// open connects to the project's Firestore; the returned func closes it.
func (c *CLI) open(ctx context.Context, project string) (*store.Store, func(), error) {
	fs, err := c.opt.Open(ctx, project)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to Firestore of project %s: %w", project, err)
	}
	return store.New(fs), func() { fs.Close() }, nil
}

// openTenant opens the project's store for a command on one tenant, and
// refuses a tenant that does not exist before the command writes anything.
func (c *CLI) openTenant(ctx context.Context, f *flags, tenant string) (*store.Store, func(), error) {
	st, done, err := c.open(ctx, f.project)
	if err != nil {
		return nil, nil, err
	}
	if _, err := st.Tenant(ctx, tenant); err != nil {
		done()
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, f.errorf("--tenant: no tenant %s", tenant)
		}
		return nil, nil, err
	}
	return st, done, nil
}

package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/sethvargo/go-envconfig"

	"github.com/templategw/templategw/internal/config"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/store"
)

// templateView is a template as the CLI shows it, with the params a send
// must supply, derived from its components as the send path derives them.
type templateView struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Language string   `json:"language"`
	Category string   `json:"category"`
	Status   string   `json:"status"`
	Params   []string `json:"params"`
	Change   change   `json:"change,omitempty"`
}

func viewTemplate(t domain.Template, ch change) templateView {
	params := t.Params()
	if params == nil {
		params = []string{}
	}
	return templateView{ID: t.ID, Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status, Params: params, Change: ch}
}

// SyncReport is what a template sync did; templates sync prints it.
type SyncReport struct {
	Tenant      string         `json:"tenant"`
	Channel     string         `json:"channel"`
	WABAID      string         `json:"wabaId"`
	Added       int            `json:"added"`
	Updated     int            `json:"updated"`
	Unchanged   int            `json:"unchanged"`
	NotApproved []string       `json:"notApproved"` // gateway ids, which sends refuse
	Templates   []templateView `json:"templates"`
}

func (c *CLI) templatesSync(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("templates sync", "pull every template of a channel's WhatsApp Business Account from Meta and upsert them into the tenant's templates")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	chID := f.fs.String("channel", "", "channel whose WABA and access token are used (default: the tenant's default channel)")
	base := f.fs.String("meta-base-url", "", "Meta's API base URL (default $META_BASE_URL, else https://graph.facebook.com)")
	version := f.fs.String("meta-api-version", "", "Meta's API version (default $META_API_VERSION, else v24.0)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant"); err != nil {
		return err
	}
	var meta config.Meta
	if err := envconfig.Process(ctx, &meta); err != nil {
		return fmt.Errorf("read META_* configuration: %w", err)
	}
	if *base != "" {
		meta.BaseURL = *base
	}
	if *version != "" {
		meta.APIVersion = *version
	}
	if u, err := url.Parse(meta.BaseURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return f.errorf("--meta-base-url %q: want an http(s) URL", meta.BaseURL)
	}

	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	client := provider.New(provider.Config{BaseURL: meta.BaseURL, Version: meta.APIVersion, Timeout: meta.Timeout}, c.opt.HTTPClient)
	rep, err := SyncTemplates(ctx, st, client, c.opt.Secrets, *tenant, *chID)
	var bad channelError
	if errors.As(err, &bad) {
		return f.errorf("--channel: %v", bad.err)
	}
	if err != nil {
		return err
	}
	return emit(out, f.json, rep, func(tw *tabwriter.Writer) {
		printTemplates(tw, rep.Templates, true)
		fmt.Fprintf(tw, "\n%d templates from WABA %s (channel %s): %d added, %d updated, %d unchanged.\n",
			len(rep.Templates), rep.WABAID, rep.Channel, rep.Added, rep.Updated, rep.Unchanged)
		if len(rep.NotApproved) > 0 {
			fmt.Fprintf(tw, "Not APPROVED, so sends refuse them: %s.\n", strings.Join(rep.NotApproved, ", "))
		}
	})
}

// channelError is a sync refused for its channel: none to pick, or one
// that cannot list templates.
type channelError struct{ err error }

func (e channelError) Error() string { return e.err.Error() }

// SyncTemplates pulls every template of a channel's WhatsApp Business
// Account (the tenant's default channel when channel is "") from Meta and
// upserts them into the tenant's templates, giving new ones their gateway
// ids as planSync says. The CLI's templates sync and the console's sync
// button both run it.
func SyncTemplates(ctx context.Context, st *store.Store, meta *provider.Client, secrets Secrets, tenant, channel string) (SyncReport, error) {
	ch, err := syncChannel(ctx, st, tenant, channel)
	if err != nil {
		return SyncReport{}, channelError{err}
	}
	if ch.WABAID == "" {
		return SyncReport{}, channelError{fmt.Errorf("channel %s has no WABA id", ch.ID)}
	}
	token, err := secrets.Resolve(ctx, ch.SecretRef)
	if err != nil {
		return SyncReport{}, fmt.Errorf("access token of channel %s: %w", ch.ID, err)
	}
	remote, err := meta.ListTemplates(ctx, ch.WABAID, token)
	if err != nil {
		return SyncReport{}, err
	}
	stored, err := allTemplates(ctx, st, tenant)
	if err != nil {
		return SyncReport{}, err
	}
	items, err := planSync(stored, remote)
	if err != nil {
		return SyncReport{}, err
	}
	rep := SyncReport{Tenant: tenant, Channel: ch.ID, WABAID: ch.WABAID, NotApproved: []string{}, Templates: []templateView{}}
	var writes []domain.Template
	for _, it := range items {
		switch it.Change {
		case added:
			rep.Added++
		case updated:
			rep.Updated++
		case unchanged:
			rep.Unchanged++
		}
		if it.Change != unchanged {
			writes = append(writes, it.Template)
		}
		if it.Template.Status != domain.TemplateApproved {
			rep.NotApproved = append(rep.NotApproved, it.Template.ID)
		}
		rep.Templates = append(rep.Templates, viewTemplate(it.Template, it.Change))
	}
	if err := st.PutTemplates(ctx, tenant, writes); err != nil {
		return SyncReport{}, err
	}
	return rep, nil
}

// syncChannel is the named channel, else the tenant's default, else its
// only one.
func syncChannel(ctx context.Context, st *store.Store, tenant, id string) (domain.Channel, error) {
	if id != "" {
		return findChannel(ctx, st, tenant, id)
	}
	list, err := st.Channels(ctx, tenant)
	if err != nil {
		return domain.Channel{}, err
	}
	for _, ch := range list {
		if ch.Default {
			return ch, nil
		}
	}
	if len(list) == 1 {
		return list[0], nil
	}
	return domain.Channel{}, fmt.Errorf("tenant %s has %d channels and no default: name one", tenant, len(list))
}

// allTemplates reads every template of a tenant, a page at a time.
func allTemplates(ctx context.Context, st *store.Store, tenant string) ([]domain.Template, error) {
	var all []domain.Template
	after := ""
	for {
		list, next, err := st.Templates(ctx, tenant, 300, after)
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
		if next == "" {
			return all, nil
		}
		after = next
	}
}

func printTemplates(tw io.Writer, views []templateView, changes bool) {
	head := []any{"ID", "NAME", "LANGUAGE", "CATEGORY", "STATUS", "PARAMS"}
	if changes {
		head = append(head, "CHANGE")
	}
	row(tw, head...)
	for _, v := range views {
		cells := []any{v.ID, v.Name, v.Language, v.Category, v.Status, strings.Join(v.Params, ",")}
		if changes {
			cells = append(cells, v.Change)
		}
		row(tw, cells...)
	}
}

func (c *CLI) templatesList(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("templates list", "list a tenant's templates by gateway id, with the params a send needs")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant"); err != nil {
		return err
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	list, err := allTemplates(ctx, st, *tenant)
	if err != nil {
		return err
	}
	views := make([]templateView, 0, len(list))
	for _, t := range list {
		views = append(views, viewTemplate(t, ""))
	}
	return emit(out, f.json, struct {
		Templates []templateView `json:"templates"`
	}{views}, func(tw *tabwriter.Writer) { printTemplates(tw, views, false) })
}

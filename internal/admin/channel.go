package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
)

// Meta's limits on a number's throughput: 80 messages per second by
// default, up to 1,000 once upgraded.
const (
	defaultMPS = 80
	maxMPS     = 1000
)

// channelView is a channel as the CLI shows it. The secret reference is
// shown (it names a variable, not the token) so an operator can check it.
type channelView struct {
	domain.Channel
	SecretRef string `json:"secretRef"`
}

func findChannel(ctx context.Context, st *store.Store, tenant, id string) (domain.Channel, error) {
	list, err := st.Channels(ctx, tenant)
	if err != nil {
		return domain.Channel{}, err
	}
	for _, ch := range list {
		if ch.ID == id {
			return ch, nil
		}
	}
	return domain.Channel{}, fmt.Errorf("tenant %s has no channel %s", tenant, id)
}

func (c *CLI) channelAdd(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("channel add", "add a WhatsApp number (a channel) to a tenant")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	id := f.fs.String("id", "", "channel id, e.g. main (required)")
	display := f.fs.String("display-number", "", "the number as people dial it: digits, country code first (required)")
	pnID := f.fs.String("phone-number-id", "", "Meta's phone number id (required)")
	waba := f.fs.String("waba-id", "", "Meta's WhatsApp Business Account id, whose templates sync reads (required)")
	ref := f.fs.String("secret-ref", "", "where the Meta access token is: env:NAME, the variable the deployment maps the secret into (required)")
	def := f.fs.Bool("default", false, "make it the tenant's default channel (the others lose the flag)")
	mps := f.fs.Int("mps", defaultMPS, "messages per second Meta allows this number, 1 to 1000")
	sender := f.fs.String("sender-code", "", "sender code (emkt's remetente) that names this channel")
	cc := f.fs.String("country-code", "", "country code prepended to national numbers sent through this channel")
	connected := f.fs.Bool("connected", true, "whether it may send at once (--connected=false to add it disconnected)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant", "id", "display-number", "phone-number-id", "waba-id", "secret-ref"); err != nil {
		return err
	}
	switch {
	case !idPattern.MatchString(*id):
		return f.errorf("--id %q: want letters, digits, - and _, at most 64, starting with a letter or digit", *id)
	case !digits(*display, 15) || len(*display) < 8 || (*display)[0] == '0':
		return f.errorf("--display-number: want 8 to 15 digits, country code first, without +")
	case !digits(*pnID, 32):
		return f.errorf("--phone-number-id: want Meta's numeric id")
	case !digits(*waba, 32):
		return f.errorf("--waba-id: want Meta's numeric id")
	case secret.CheckRef(*ref) != nil:
		return f.errorf("--secret-ref %q: want env:NAME (the access token itself never goes in Firestore)", *ref)
	case *mps < 1 || *mps > maxMPS:
		return f.errorf("--mps %d: want 1 to %d", *mps, maxMPS)
	case *cc != "" && !digits(*cc, 3):
		return f.errorf("--country-code %q: want 1 to 3 digits, without +", *cc)
	}
	ch := domain.Channel{ID: *id, DisplayNumber: *display, PhoneNumberID: *pnID, WABAID: *waba, Provider: "meta",
		SecretRef: *ref, SenderCode: *sender, CountryCode: *cc, Connected: *connected, Default: *def, MessagesPerSecond: *mps}

	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	list, err := st.Channels(ctx, *tenant)
	if err != nil {
		return err
	}
	// A request names its channel by id, display number or sender code
	// (domain.PickChannel); a duplicate would shadow the other channel.
	for _, o := range list {
		switch {
		case o.ID == ch.ID:
			return f.errorf("--id: tenant %s already has channel %s", *tenant, ch.ID)
		case o.DisplayNumber == ch.DisplayNumber:
			return f.errorf("--display-number: channel %s already has it", o.ID)
		case ch.SenderCode != "" && o.SenderCode == ch.SenderCode:
			return f.errorf("--sender-code: channel %s already has it", o.ID)
		}
	}
	if err := st.PutChannel(ctx, *tenant, ch); err != nil {
		if errors.Is(err, store.ErrPhoneNumberTaken) {
			return f.errorf("--phone-number-id: %v", err)
		}
		return err
	}
	if ch.Default {
		if err := st.SetDefaultChannel(ctx, *tenant, ch.ID); err != nil {
			return err
		}
	}
	return printChannels(out, f.json, []domain.Channel{ch}, false)
}

// printChannels prints channels as a table, or as JSON: one object, or a
// list under "channels".
func printChannels(out io.Writer, asJSON bool, list []domain.Channel, many bool) error {
	views := make([]channelView, 0, len(list))
	for _, ch := range list {
		views = append(views, channelView{ch, ch.SecretRef})
	}
	var v any = struct {
		Channels []channelView `json:"channels"`
	}{views}
	if !many {
		v = views[0]
	}
	return emit(out, asJSON, v, func(tw *tabwriter.Writer) {
		row(tw, "ID", "DISPLAY NUMBER", "PHONE NUMBER ID", "WABA", "CONNECTED", "DEFAULT", "MPS", "SENDER CODE", "SECRET REF", "HELD")
		for _, v := range views {
			row(tw, v.ID, v.DisplayNumber, v.PhoneNumberID, v.WABAID, yesNo(v.Connected), yesNo(v.Default), v.MessagesPerSecond, v.SenderCode, v.SecretRef, holdText(v.Hold))
		}
	})
}

// holdText says since when and why a channel is held, "" when it is not.
func holdText(h *domain.Hold) string {
	if h == nil {
		return ""
	}
	return fmt.Sprintf("since %s: %d %s", stamp(h.Since), h.Code, h.Reason)
}

func (c *CLI) channelList(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("channel list", "list a tenant's channels")
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
	list, err := st.Channels(ctx, *tenant)
	if err != nil {
		return err
	}
	return printChannels(out, f.json, list, true)
}

func (c *CLI) channelDisconnect(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("channel disconnect", "stop a channel from sending: its sends answer 401 channel not connected (within CACHE_TTL, 30 s by default)")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	id := f.fs.String("id", "", "channel id (required)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant", "id"); err != nil {
		return err
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	ch, err := findChannel(ctx, st, *tenant, *id)
	if err != nil {
		return f.errorf("--id: %v", err)
	}
	if err := st.SetChannelConnected(ctx, *tenant, *id, false); err != nil {
		return err
	}
	ch.Connected = false
	return printChannels(out, f.json, []domain.Channel{ch}, false)
}

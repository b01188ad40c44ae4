package callback

import (
	"context"
	"strconv"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
)

// ChannelHeldType is the type of the callback that tells a tenant one of
// its channels is held: Meta refuses it as a whole (its access token, its
// account), so its messages wait as held until it is reconnected, and
// fail past the hold limit.
const ChannelHeldType = "channel.held"

// ChannelHeldEventOf is the channel.held event of channel's hold h. Its id
// names the hold's start, so every retry of it has the same id and a later
// hold of the same channel another.
func ChannelHeldEventOf(channel string, h domain.Hold) Event {
	hold := h
	hold.Since = h.Since.UTC()
	return Event{
		ID:        "channel." + channel + ".held." + strconv.FormatInt(hold.Since.UnixMilli(), 10),
		Type:      ChannelHeldType,
		Timestamp: hold.Since,
		Channel:   channel,
		Hold:      &hold,
	}
}

// NotifyChannelHeld publishes the channel.held callback of tenant's
// channel to url ("" sends none). Like Notify it never fails the caller:
// the hold is stored and shows in the admin CLI; a publish that fails is
// logged.
func (n *Notifier) NotifyChannelHeld(ctx context.Context, tenant, url, channel string, h domain.Hold) {
	if n == nil || n.p == nil || url == "" {
		return
	}
	ev := ChannelHeldEventOf(channel, h)
	if err := n.publish(ctx, Job{Tenant: tenant, URL: url, Event: ev}); err != nil {
		logging.FromContext(ctx).Error("channel.held callback not published", "tenant", tenant, "channel", channel,
			"eventId", ev.ID, "error", err.Error())
	}
}

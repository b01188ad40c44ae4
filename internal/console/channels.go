package console

import (
	"net/http"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// channelsView answers "can my numbers send, and what needs me": each
// number's state and pace, and the messages and callbacks a person must
// look at.
type channelsView struct {
	page
	Channels []domain.Channel
	// Unknown are the newest messages whose outcome was lost; Meta's
	// webhook or a person settles them.
	Unknown     []domain.Message
	UnknownMore bool
	Held        int
	// Dead are the callbacks given up on; see deadLetters.
	Dead deadLetters
}

// problemsShown bounds the unknown messages listed; the link under them
// opens the full search.
const problemsShown = 50

func (c *Console) channels(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant := sessionOf(ctx).Tenant
	v := channelsView{page: c.page(r, "Channels and problems", "channels")}
	err := parallel(
		func() (err error) {
			v.Channels, err = c.deps.Store.Channels(ctx, tenant)
			return err
		},
		func() error {
			list, next, err := c.deps.Store.Messages(ctx, tenant, store.MessageFilter{Status: domain.StatusUnknown}, problemsShown, "")
			v.Unknown, v.UnknownMore = list, next != ""
			return err
		},
		func() (err error) {
			v.Held, err = c.deps.Store.CountMessages(ctx, tenant, store.MessageFilter{Status: domain.StatusHeld})
			return err
		},
		func() (err error) {
			v.Dead, err = c.deadLetters(r, tenant)
			return err
		},
	)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "channels", v)
}

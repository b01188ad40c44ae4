package wati

import (
	"github.com/templategw/templategw/internal/domain"
)

// channelFor picks the channel ref names (id, display number with or
// without "+", or sender code), else the token's default, else the
// tenant's default, naming field in errors. Reads pass anyState: a number
// that is not connected still has its history and chats.
func channelFor(channels []domain.Channel, ref, tokenDefault, field string, anyState bool) (domain.Channel, error) {
	if anyState {
		all := make([]domain.Channel, len(channels))
		for i, c := range channels {
			c.Connected = true
			all[i] = c
		}
		channels = all
	}
	ch, err := domain.PickChannel(channels, ref, tokenDefault)
	if domain.KindOf(err) == domain.KindInvalid {
		return ch, domain.Errorf(domain.KindInvalid, "invalid fields: "+field+": this tenant has no number "+ref, field)
	}
	return ch, err
}

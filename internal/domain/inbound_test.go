package domain_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/templategw/templategw/internal/domain"
)

func TestInboundBoundCutsEveryField(t *testing.T) {
	long := strings.Repeat("é", 10000)
	phones := make([]string, 50)
	for i := range phones {
		phones[i] = long
	}
	contacts := make([]domain.SharedContact, 50)
	for i := range contacts {
		contacts[i] = domain.SharedContact{Name: long, Phones: append([]string(nil), phones...)}
	}
	in := domain.InboundMessage{
		ProfileName: long, Type: long, Text: long, Context: long,
		Media:    &domain.InboundMedia{ID: long, MimeType: long, Caption: long, Filename: long, SHA256: long},
		Reply:    &domain.InboundReply{ID: long, Title: long, Description: long},
		Reaction: &domain.InboundReaction{MessageID: long, Emoji: long},
		Location: &domain.InboundLocation{Name: long, Address: long},
		Contacts: contacts,
	}
	in.Bound()
	check := func(field, s string, max int) {
		if n := utf8.RuneCountInString(s); n != max || !utf8.ValidString(s) {
			t.Errorf("%s: %d characters, want %d", field, n, max)
		}
	}
	check("profileName", in.ProfileName, domain.MaxNameLength)
	check("text", in.Text, domain.MaxInboundText)
	check("context", in.Context, domain.MaxInboundField)
	check("media.id", in.Media.ID, domain.MaxInboundField)
	check("media.mimeType", in.Media.MimeType, domain.MaxInboundField)
	check("media.caption", in.Media.Caption, domain.MaxInboundCaption)
	check("media.filename", in.Media.Filename, domain.MaxInboundField)
	check("media.sha256", in.Media.SHA256, domain.MaxInboundField)
	check("reply.id", in.Reply.ID, domain.MaxInboundField)
	check("reply.title", in.Reply.Title, domain.MaxInboundField)
	check("reply.description", in.Reply.Description, domain.MaxInboundField)
	check("reaction.messageId", in.Reaction.MessageID, domain.MaxInboundField)
	check("reaction.emoji", in.Reaction.Emoji, domain.MaxInboundField)
	check("location.name", in.Location.Name, domain.MaxInboundField)
	check("location.address", in.Location.Address, domain.MaxInboundAddress)
	if in.Type != "unknown" {
		t.Errorf("type %q, want unknown for a type that is no word", in.Type)
	}
	if len(in.Contacts) != domain.MaxSharedContacts || len(in.Contacts[0].Phones) != domain.MaxSharedPhones {
		t.Fatalf("%d contacts, %d phones each", len(in.Contacts), len(in.Contacts[0].Phones))
	}
	check("contacts.0.name", in.Contacts[0].Name, domain.MaxInboundField)
	check("contacts.0.phones.0", in.Contacts[0].Phones[0], domain.MaxInboundField)

	short := domain.InboundMessage{Type: "Image", Text: "oi"}
	short.Bound()
	if short.Type != "image" || short.Text != "oi" {
		t.Errorf("short message changed: %+v", short)
	}
}

func TestInboundSummary(t *testing.T) {
	for _, c := range []struct {
		in   domain.InboundMessage
		want string
	}{
		{domain.InboundMessage{Type: "text", Text: "quero saber mais"}, "quero saber mais"},
		{domain.InboundMessage{Type: "image", Media: &domain.InboundMedia{ID: "1", MimeType: "image/jpeg", Caption: "a foto"}}, "a foto"},
		{domain.InboundMessage{Type: "document", Media: &domain.InboundMedia{ID: "1", MimeType: "application/pdf", Filename: "boleto.pdf"}}, "boleto.pdf"},
		{domain.InboundMessage{Type: "audio", Media: &domain.InboundMedia{ID: "1", MimeType: "audio/ogg"}}, "[audio]"},
		{domain.InboundMessage{Type: "button", Reply: &domain.InboundReply{ID: "yes", Title: "Sim"}}, "Sim"},
		{domain.InboundMessage{Type: "list_reply", Reply: &domain.InboundReply{ID: "row-2"}}, "row-2"},
		{domain.InboundMessage{Type: "reaction", Reaction: &domain.InboundReaction{MessageID: "wamid.1", Emoji: "👍"}}, "👍"},
		{domain.InboundMessage{Type: "reaction", Reaction: &domain.InboundReaction{MessageID: "wamid.1"}}, "[reaction]"},
		{domain.InboundMessage{Type: "location", Location: &domain.InboundLocation{Name: "Avenida Paulista", Address: "São Paulo"}}, "Avenida Paulista, São Paulo"},
		{domain.InboundMessage{Type: "location", Location: &domain.InboundLocation{Latitude: -23.5, Longitude: -46.6}}, "-23.500000, -46.600000"},
		{domain.InboundMessage{Type: "contacts", Contacts: []domain.SharedContact{{Name: "Ana"}, {}, {Name: "Bia"}}}, "Ana, Bia"},
		{domain.InboundMessage{Type: "unsupported"}, "[unsupported]"},
	} {
		if got := c.in.Summary(); got != c.want {
			t.Errorf("%s: Summary() = %q, want %q", c.in.Type, got, c.want)
		}
	}
}

func TestContactKeys(t *testing.T) {
	if k := domain.ContactKey("5511987654321", "BR.1"); k != "5511987654321" || domain.IsUserKey(k) {
		t.Errorf("with a phone: key %q", k)
	}
	if k := domain.ContactKey("", "BR.13491208655302741918"); k != "user:BR.13491208655302741918" || !domain.IsUserKey(k) {
		t.Errorf("user id alone: key %q", k)
	}
	for _, ok := range []string{"BR.13491208655302741918", "US.ENT.11815799212886844830", "x"} {
		if got, valid := domain.ParseUserID(ok); !valid || got != ok {
			t.Errorf("ParseUserID(%q) = %q, %v", ok, got, valid)
		}
	}
	for _, bad := range []string{"", ".BR.1", "__BR__", "BR/1", "BR 1", "BR.é", strings.Repeat("A", domain.MaxUserID+1), "BR.1\n"} {
		if _, valid := domain.ParseUserID(bad); valid {
			t.Errorf("ParseUserID(%q) accepted", bad)
		}
	}
}

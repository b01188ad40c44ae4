package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"
	"regexp"
	"time"
)

// Inbound is a message a contact writes to a business number (Reply).
// Type picks Meta's message type; the other fields fill it, with defaults
// where Meta's message needs a value the caller did not give.
type Inbound struct {
	// PhoneNumberID is the business number written to; empty means the
	// first configured number.
	PhoneNumberID string `json:"phone_number_id"`
	// From is the contact's number, digits with country code; UserID is
	// their business-scoped user id. At least one is needed: a contact who
	// adopted a username may come with a user id alone.
	From   string `json:"from"`
	UserID string `json:"user_id"`
	// Name is the contact's profile name; empty means From, else UserID.
	Name string `json:"name"`
	// Type is text (the default), image, video, audio, document, sticker,
	// button (a tapped quick reply), button_reply or list_reply (an
	// interactive reply), reaction, location or contacts.
	Type string `json:"type"`
	// Text is the text's body (required for text), a media caption
	// (image, video, document), the tapped button's label, the reply's
	// title, the location's name, or the shared contact's name.
	Text string `json:"text"`
	// Payload is a button's payload (default: Text) or an interactive
	// reply's id; Description a list reply row's description.
	Payload     string `json:"payload"`
	Description string `json:"description"`
	// Context is the wamid a button, interactive reply or reaction refers
	// to; empty means the last message the number sent the contact.
	Context string `json:"context"`
	// Emoji is a reaction's emoji; default 👍.
	Emoji string `json:"emoji"`
	// Latitude, Longitude and Address place a location; default Avenida
	// Paulista, São Paulo.
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Address   string  `json:"address"`
	// Phone is a shared contact's number.
	Phone string `json:"phone"`
	// FromAd marks the contact as arriving from a click-to-WhatsApp ad: the
	// message carries Meta's referral, and the number's messages to the
	// contact are free for 72 h (free_entry_point).
	FromAd bool `json:"from_ad"`
}

// The inbound message, in Meta's webhook shape.
type (
	inboundMessage struct {
		Context     *messageContext `json:"context,omitempty"`
		From        string          `json:"from,omitempty"`
		FromUserID  string          `json:"from_user_id,omitempty"`
		ID          string          `json:"id"`
		Timestamp   string          `json:"timestamp"`
		Type        string          `json:"type"`
		Text        *textBody       `json:"text,omitempty"`
		Image       *media          `json:"image,omitempty"`
		Video       *media          `json:"video,omitempty"`
		Audio       *media          `json:"audio,omitempty"`
		Document    *media          `json:"document,omitempty"`
		Sticker     *media          `json:"sticker,omitempty"`
		Button      *buttonTap      `json:"button,omitempty"`
		Interactive *interactive    `json:"interactive,omitempty"`
		Reaction    *reaction       `json:"reaction,omitempty"`
		Location    *location       `json:"location,omitempty"`
		Contacts    []sharedContact `json:"contacts,omitempty"`
		Referral    *referral       `json:"referral,omitempty"`
	}
	messageContext struct {
		From string `json:"from"`
		ID   string `json:"id"`
	}
	textBody struct {
		Body string `json:"body"`
	}
	media struct {
		Caption  string `json:"caption,omitempty"`
		Filename string `json:"filename,omitempty"`
		MimeType string `json:"mime_type"`
		SHA256   string `json:"sha256"`
		ID       string `json:"id"`
		Voice    *bool  `json:"voice,omitempty"`
		Animated *bool  `json:"animated,omitempty"`
	}
	buttonTap struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	}
	interactive struct {
		Type        string    `json:"type"`
		ButtonReply *replyRow `json:"button_reply,omitempty"`
		ListReply   *replyRow `json:"list_reply,omitempty"`
	}
	replyRow struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Description string `json:"description,omitempty"`
	}
	reaction struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	}
	location struct {
		Address   string  `json:"address"`
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
	}
	sharedContact struct {
		Name   contactName    `json:"name"`
		Phones []contactPhone `json:"phones,omitempty"`
	}
	contactName struct {
		FormattedName string `json:"formatted_name"`
		FirstName     string `json:"first_name,omitempty"`
	}
	contactPhone struct {
		Phone string `json:"phone"`
		WAID  string `json:"wa_id"`
		Type  string `json:"type"`
	}
	referral struct {
		SourceURL  string `json:"source_url"`
		SourceID   string `json:"source_id"`
		SourceType string `json:"source_type"`
		Body       string `json:"body"`
		Headline   string `json:"headline"`
		MediaType  string `json:"media_type"`
		ImageURL   string `json:"image_url"`
		CTWAClid   string `json:"ctwa_clid"`
	}
)

// mimeTypes are the media types a contact's media of each kind arrives in
// unless said otherwise.
var mimeTypes = map[string]string{
	"image":    "image/jpeg",
	"video":    "video/mp4",
	"audio":    "audio/ogg; codecs=opus",
	"document": "application/pdf",
	"sticker":  "image/webp",
}

// userIDPattern is the shape of a business-scoped user id: a country code,
// a dot, and an alphanumeric id, possibly with more dotted parts
// (US.13491208655302741918, US.ENT.11815799212886844830).
var userIDPattern = regexp.MustCompile(`^[A-Z]{2}(\.[A-Za-z0-9]+)+$`)

// check says what is wrong with in, after defaults are applied.
func (in *Inbound) check() error {
	if in.Type == "" {
		in.Type = "text"
	}
	switch {
	case in.From == "" && in.UserID == "":
		return fmt.Errorf("%w: from (the contact's number) or user_id (their business-scoped user id) is required", errInvalidReply)
	case in.From != "" && !isPhone(in.From):
		return fmt.Errorf("%w: from must be the contact's number in digits, country code first, 5 to 15 digits", errInvalidReply)
	case in.UserID != "" && (len(in.UserID) > 128 || !userIDPattern.MatchString(in.UserID)):
		return fmt.Errorf("%w: user_id must be a business-scoped user id such as BR.13491208655302741918", errInvalidReply)
	case in.Phone != "" && !isPhone(in.Phone):
		return fmt.Errorf("%w: phone must be a number in digits, country code first", errInvalidReply)
	}
	switch in.Type {
	case "text", "button_reply", "list_reply", "contacts":
		if in.Text == "" {
			return fmt.Errorf("%w: text is required for type %s", errInvalidReply, in.Type)
		}
	case "image", "video", "audio", "document", "sticker", "button", "reaction", "location":
	default:
		return fmt.Errorf("%w: type %q is not one the sandbox sends (text, image, video, audio, document, sticker, button, button_reply, list_reply, reaction, location, contacts)", errInvalidReply, in.Type)
	}
	if in.Name == "" {
		in.Name = in.From
		if in.Name == "" {
			in.Name = in.UserID
		}
	}
	return nil
}

// message builds in as Meta's inbound message with id wamid at now. n is
// the business number; context is the wamid a reply refers to.
func (in Inbound) message(n *number, wamid, context string, now time.Time) inboundMessage {
	m := inboundMessage{From: in.From, FromUserID: in.UserID, ID: wamid, Timestamp: unixString(now), Type: in.Type}
	replyTo := &messageContext{From: n.DisplayPhoneNumber, ID: context}
	switch in.Type {
	case "text":
		m.Text = &textBody{Body: in.Text}
	case "image", "video", "audio", "document", "sticker":
		md := &media{MimeType: mimeTypes[in.Type], SHA256: randomSHA256(), ID: randomDigits(16)}
		switch in.Type {
		case "image":
			md.Caption, m.Image = in.Text, md
		case "video":
			md.Caption, m.Video = in.Text, md
		case "document":
			md.Caption, md.Filename, m.Document = in.Text, "document.pdf", md
		case "audio":
			md.Voice, m.Audio = new(true), md
		case "sticker":
			md.Animated, m.Sticker = new(false), md
		}
	case "button":
		label := in.Text
		if label == "" {
			label = "Sim"
		}
		payload := in.Payload
		if payload == "" {
			payload = label
		}
		m.Context, m.Button = replyTo, &buttonTap{Payload: payload, Text: label}
	case "button_reply", "list_reply":
		row := &replyRow{ID: in.Payload, Title: in.Text}
		if row.ID == "" {
			row.ID = in.Type + "-0"
		}
		m.Type, m.Context, m.Interactive = "interactive", replyTo, &interactive{Type: in.Type}
		if in.Type == "button_reply" {
			m.Interactive.ButtonReply = row
		} else {
			// Meta sends a list row's description, empty when it has none.
			row.Description = in.Description
			m.Interactive.ListReply = row
		}
	case "reaction":
		emoji := in.Emoji
		if emoji == "" {
			emoji = "👍"
		}
		m.Reaction = &reaction{MessageID: context, Emoji: emoji}
	case "location":
		loc := location{Latitude: in.Latitude, Longitude: in.Longitude, Name: in.Text, Address: in.Address}
		if loc.Latitude == 0 && loc.Longitude == 0 {
			loc.Latitude, loc.Longitude = -23.561414, -46.655881
		}
		if loc.Name == "" {
			loc.Name = "Avenida Paulista"
		}
		if loc.Address == "" {
			loc.Address = "Av. Paulista, 1578 - Bela Vista, São Paulo - SP"
		}
		m.Location = &loc
	case "contacts":
		c := sharedContact{Name: contactName{FormattedName: in.Text}}
		if in.Phone != "" {
			c.Phones = []contactPhone{{Phone: "+" + in.Phone, WAID: in.Phone, Type: "CELL"}}
		}
		m.Contacts = []sharedContact{c}
	}
	if in.FromAd {
		m.Referral = &referral{
			SourceURL: "https://fb.me/" + randomDigits(10), SourceID: randomDigits(15), SourceType: "ad",
			Body: "Fale com a gente pelo WhatsApp", Headline: "Oferta", MediaType: "image",
			ImageURL: "https://scontent.example.com/ad.jpg", CTWAClid: randomID(24),
		}
	}
	return m
}

// randomDigits is n random decimal digits without a leading zero, the
// shape of Meta's numeric ids.
func randomDigits(n int) string {
	lo := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n-1)), nil)
	span := new(big.Int).Sub(new(big.Int).Mul(lo, big.NewInt(10)), lo)
	v, _ := rand.Int(rand.Reader, span) // crypto/rand never fails since Go 1.24
	return v.Add(v, lo).String()
}

// randomSHA256 stands in for a media file's hash, base64 as Meta writes it.
func randomSHA256() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

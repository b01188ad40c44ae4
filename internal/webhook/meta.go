package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// envelope is Meta's webhook body (REFERENCE §3). Only what the gateway
// reads is declared; Meta adds fields freely, so unknown ones are ignored.
// The envelope's own shape is checked strictly (a body that is not one is
// 400); each change's value, and each status, message and contact in it,
// is decoded on its own, so one odd item is logged and skipped while the
// rest of the body is applied.
type envelope struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"` // the WABA id
	Changes []change `json:"changes"`
}

type change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

type value struct {
	MessagingProduct string            `json:"messaging_product"`
	Metadata         metadata          `json:"metadata"`
	Statuses         []json.RawMessage `json:"statuses"`
	Contacts         []json.RawMessage `json:"contacts"`
	Messages         []json.RawMessage `json:"messages"`
	Errors           []json.RawMessage `json:"errors"`
}

type metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// status is one status of a message the business sent. The recipient is
// recipient_id, or recipient_user_id for a user known by its
// business-scoped id; neither is needed, since the message is found by its
// wamid or by the gateway id Meta echoes. Pricing and errors stay raw, so
// an odd one loses only itself, never the status.
type status struct {
	ID              string          `json:"id"`
	Status          string          `json:"status"`
	Timestamp       unixTime        `json:"timestamp"`
	RecipientID     string          `json:"recipient_id"`
	RecipientUserID string          `json:"recipient_user_id"`
	CallbackData    string          `json:"biz_opaque_callback_data"`
	Pricing         json.RawMessage `json:"pricing"`
	Errors          json.RawMessage `json:"errors"`
}

type pricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
	Type         string `json:"type"`
}

// contact is who wrote: wa_id is the number, absent for a user known only
// by its business-scoped user_id.
type contact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WAID   string `json:"wa_id"`
	UserID string `json:"user_id"`
}

// inbound is one message a contact sent, every type the gateway keeps.
type inbound struct {
	From       string   `json:"from"`
	FromUserID string   `json:"from_user_id"`
	ID         string   `json:"id"`
	Timestamp  unixTime `json:"timestamp"`
	Type       string   `json:"type"`
	Context    *struct {
		ID string `json:"id"`
	} `json:"context"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *media `json:"image"`
	Video    *media `json:"video"`
	Audio    *media `json:"audio"`
	Document *media `json:"document"`
	Sticker  *media `json:"sticker"`
	Button   *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Interactive *struct {
		Type        string    `json:"type"`
		ButtonReply *replyRow `json:"button_reply"`
		ListReply   *replyRow `json:"list_reply"`
	} `json:"interactive"`
	Reaction *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
			WAID  string `json:"wa_id"`
		} `json:"phones"`
	} `json:"contacts"`
}

// inboundHead is what identifies an inbound message: when the rest of it
// cannot be read, the message is still stored and forwarded by its type.
type inboundHead struct {
	From       string   `json:"from"`
	FromUserID string   `json:"from_user_id"`
	ID         string   `json:"id"`
	Timestamp  unixTime `json:"timestamp"`
	Type       string   `json:"type"`
}

type media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
}

type replyRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type metaError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

// maxUnix is the last second of year 9999: past it a number is no time
// time.Time can format, let alone Meta's clock.
const maxUnix = 253402300799

// unixTime is Meta's timestamp: unix seconds as a string (a bare number
// is accepted too). Reading one never fails: a value that is not unix
// seconds is kept as bad, and the handler replaces it by the receive time
// (at), so one odd timestamp neither refuses the body nor reaches the
// store. Empty or absent is the zero time.
type unixTime struct {
	t   time.Time
	bad string // the unreadable value, cut short for the log
}

func (u *unixTime) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "" || s == "null" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > maxUnix {
		u.bad = domain.Clip(string(b), 32)
		return nil
	}
	u.t = time.Unix(n, 0).UTC()
	return nil
}

// at is the time to record for u, given when the webhook arrived
// (domain.EventTime); problem says why u was replaced.
func (u unixTime) at(received time.Time) (at time.Time, problem string) {
	if u.bad != "" {
		return received, "not unix seconds"
	}
	return domain.EventTime(u.t, received)
}

// raw is u as Meta sent it, for a log line.
func (u unixTime) raw() string {
	if u.bad != "" {
		return u.bad
	}
	return strconv.FormatInt(u.t.Unix(), 10)
}

// errMalformed marks a body that is not a Meta webhook; the answer is 400.
var errMalformed = errors.New("malformed webhook body")

// parse decodes a webhook body. Only the envelope's shape is checked here;
// unknown objects, fields and ids, and odd items, are the handler's to log
// and skip.
func parse(body []byte) (envelope, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&env); err != nil {
		return env, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if dec.More() {
		return env, fmt.Errorf("%w: data after the JSON object", errMalformed)
	}
	if env.Object == "" {
		return env, fmt.Errorf("%w: no object", errMalformed)
	}
	return env, nil
}

package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// envelope is Meta's webhook body (REFERENCE §3). Only what the gateway
// reads is declared; Meta adds fields freely, so unknown ones are ignored.
type envelope struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"` // the WABA id
	Changes []change `json:"changes"`
}

type change struct {
	Field string `json:"field"`
	Value value  `json:"value"`
}

type value struct {
	MessagingProduct string      `json:"messaging_product"`
	Metadata         metadata    `json:"metadata"`
	Statuses         []status    `json:"statuses"`
	Contacts         []contact   `json:"contacts"`
	Messages         []inbound   `json:"messages"`
	Errors           []metaError `json:"errors"`
}

type metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type status struct {
	ID           string        `json:"id"`
	Status       string        `json:"status"`
	Timestamp    unixTime      `json:"timestamp"`
	RecipientID  string        `json:"recipient_id"`
	CallbackData string        `json:"biz_opaque_callback_data"`
	Conversation *conversation `json:"conversation"`
	Errors       []metaError   `json:"errors"`
}

type conversation struct {
	ID                  string   `json:"id"`
	ExpirationTimestamp unixTime `json:"expiration_timestamp"`
	Origin              struct {
		Type string `json:"type"`
	} `json:"origin"`
}

type contact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WAID string `json:"wa_id"`
}

type inbound struct {
	From      string   `json:"from"`
	ID        string   `json:"id"`
	Timestamp unixTime `json:"timestamp"`
	Type      string   `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text"`
}

type metaError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

// unixTime is Meta's timestamp: unix seconds as a string (a bare number
// is accepted too). Empty or absent is the zero time.
type unixTime time.Time

func (t *unixTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s := string(bytes.Trim(b, `"`))
	if s == "" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return fmt.Errorf("timestamp %s is not unix seconds", b)
	}
	*t = unixTime(time.Unix(n, 0).UTC())
	return nil
}

func (t unixTime) time() time.Time { return time.Time(t) }

// errMalformed marks a body that is not a Meta webhook; the answer is 400.
var errMalformed = errors.New("malformed webhook body")

// parse decodes a webhook body. Only the envelope's shape is checked here;
// unknown objects, fields and ids are the handler's to log and skip.
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

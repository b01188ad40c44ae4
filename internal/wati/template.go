package wati

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/request"
	"github.com/templategw/templategw/internal/store"
)

// templateBody is sendTemplateMessage's body. channelNumber is raw so a
// number written as a JSON number is taken like its digits.
type templateBody struct {
	TemplateName  string          `json:"template_name"`
	BroadcastName string          `json:"broadcast_name"`
	Parameters    []nameValue     `json:"parameters"`
	ChannelNumber json.RawMessage `json:"channelNumber"`
}

// parseTemplate turns sendTemplateMessage's query and body into the send
// command, naming every bad field at once.
func parseTemplate(whatsappNumber string, body []byte) (accept.Request, error) {
	var b templateBody
	if err := request.DecodeObject(body, &b); err != nil {
		return accept.Request{}, err
	}
	var errs domain.FieldErrors
	domain.CheckLen(&errs, "template_name", b.TemplateName, domain.MaxTemplateRef)
	domain.CheckLen(&errs, "broadcast_name", b.BroadcastName, domain.MaxLabel)
	phone := parsePhone("whatsappNumber", whatsappNumber, &errs)
	var params map[string]string
	if checkPairs("parameters", b.Parameters, domain.MaxSendParams, templateValue, &errs) {
		params = pairs("parameters", b.Parameters, &errs)
	}
	channel, ok := scalar(b.ChannelNumber)
	if !ok {
		errs.Add("channelNumber", "must be a phone number")
	}
	checkChannel("channelNumber", channel, &errs)
	if err := errs.Err(); err != nil {
		return accept.Request{}, err
	}
	return accept.Request{TemplateName: b.TemplateName, Phone: phone, PhoneField: "whatsappNumber", Params: params, Channel: channel, ClientRef: b.BroadcastName}, nil
}

// sentAnswer is sendTemplateMessage's success body.
type sentAnswer struct {
	Result              bool        `json:"result"`
	PhoneNumber         string      `json:"phoneNumber"`
	TemplateName        string      `json:"templateName"`
	ValidWhatsAppNumber bool        `json:"validWhatsAppNumber"`
	Contact             contactView `json:"contact"`
	Model               struct {
		IDs []string `json:"ids"`
	} `json:"model"`
}

// sendTemplate serves POST sendTemplateMessage?whatsappNumber=: one
// template send by name through the accept path. Wati answers 200 for an
// accepted send, delivered or not, so Pending and Sent answer the same.
func (s *Server) sendTemplate(w http.ResponseWriter, r *http.Request, tok domain.Token) error {
	body, err := request.Body(w, r)
	if err != nil {
		return err
	}
	req, err := parseTemplate(r.URL.Query().Get("whatsappNumber"), body)
	if err != nil {
		return err
	}
	key, err := idempotency(r)
	if err != nil {
		return err
	}
	contact, err := s.store.Contact(r.Context(), tok.Tenant, req.Phone)
	switch {
	case errors.Is(err, store.ErrNotFound):
		contact = domain.Contact{Phone: req.Phone, CreatedAt: s.opt.Now(), UpdatedAt: s.opt.Now()}
	case err != nil:
		return fmt.Errorf("contact for a template send: %w", err)
	}
	var idem *accept.Idempotency
	if key != "" {
		idem = &accept.Idempotency{Key: key, RequestHash: request.Hash(r, body)}
	}
	ans, err := s.sender.Send(r.Context(), tok, req, idem, func(res accept.Result) accept.Answer {
		a := sentAnswer{Result: true, PhoneNumber: req.Phone, TemplateName: req.TemplateName, ValidWhatsAppNumber: true, Contact: viewContact(contact)}
		a.Model.IDs = []string{res.MessageID}
		return accept.Answer{Code: http.StatusOK, Body: marshal(a)}
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(ans.Code)
	_, _ = w.Write(ans.Body)
	return nil
}

// marshal is v's JSON as writeJSON writes it, HTML characters as they are:
// an answer stored under an Idempotency-Key shows the contact's
// attributes, and escaping would make each '<' six bytes of a document
// Firestore bounds (docs/limits.md).
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // strings and slices always marshal
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

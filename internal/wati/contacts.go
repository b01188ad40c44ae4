package wati

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/request"
)

// Contacts are the tenant's, shared by all of its numbers (seed 004): none
// of these endpoints takes a channel, except the chat status, which is per
// number.

type addContactBody struct {
	Name         string      `json:"name"`
	CustomParams []nameValue `json:"customParams"`
}

type contactAnswer struct {
	Result  bool         `json:"result"`
	Info    string       `json:"info"`
	Contact *contactView `json:"contact,omitempty"`
}

// addContact serves POST addContact/{whatsappNumber}: it creates the
// contact, or updates the one that exists (its name when one is given,
// and the params given), so a client that adds a contact it already has
// gets what it meant.
func (s *Server) addContact(w http.ResponseWriter, r *http.Request, tok domain.Token) error {
	body, err := request.Body(w, r)
	if err != nil {
		return err
	}
	var b addContactBody
	if err := decodeOptional(body, &b); err != nil {
		return err
	}
	var errs domain.FieldErrors
	phone := parsePhone("whatsappNumber", chi.URLParam(r, "whatsappNumber"), &errs)
	domain.CheckLen(&errs, "name", strings.TrimSpace(b.Name), domain.MaxNameLength)
	params := attributes(b.CustomParams, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	c, created, err := s.store.EditContact(r.Context(), tok.Tenant, phone, s.opt.Now().UTC(), func(c *domain.Contact, _ bool) error {
		if err := c.SetName("name", b.Name); err != nil {
			return err
		}
		return c.SetParams("customParams", params)
	})
	if err != nil {
		return err
	}
	info := "Contact updated"
	if created {
		info = "Contact added"
	}
	logging.FromContext(r.Context()).Info("wati: "+info, "tenant", tok.Tenant, "phone", domain.MaskPhone(phone))
	v := viewContact(c)
	writeJSON(w, http.StatusOK, contactAnswer{Result: true, Info: info, Contact: &v})
	return nil
}

// attributes reads customParams within their bounds: no more than a
// contact may have, each name and value within the contact's bounds.
func attributes(list []nameValue, errs *domain.FieldErrors) map[string]string {
	if !checkPairs("customParams", list, domain.MaxParams, attributeValue, errs) {
		return nil
	}
	return pairs("customParams", list, errs)
}

type attributesBody struct {
	CustomParams []nameValue `json:"customParams"`
}

// updateContactAttributes serves POST
// updateContactAttributes/{whatsappNumber}: it merges the params given
// into the contact's, creating the contact when it does not exist yet, so
// the attributes are never silently lost.
func (s *Server) updateContactAttributes(w http.ResponseWriter, r *http.Request, tok domain.Token) error {
	body, err := request.Body(w, r)
	if err != nil {
		return err
	}
	var b attributesBody
	if err := request.DecodeObject(body, &b); err != nil {
		return err
	}
	var errs domain.FieldErrors
	phone := parsePhone("whatsappNumber", chi.URLParam(r, "whatsappNumber"), &errs)
	params := attributes(b.CustomParams, &errs)
	if len(b.CustomParams) == 0 {
		errs.Add("customParams", "required: a list of {name, value}")
	}
	if err := errs.Err(); err != nil {
		return err
	}
	_, _, err = s.store.EditContact(r.Context(), tok.Tenant, phone, s.opt.Now().UTC(), func(c *domain.Contact, _ bool) error {
		return c.SetParams("customParams", params)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contactAnswer{Result: true, Info: fmt.Sprintf("%d contact attributes updated", len(params))})
	return nil
}

// chatStatusBody is updateChatStatus' body (REFERENCE §6's decision). The
// numbers may also come in the query.
type chatStatusBody struct {
	WhatsappNumber     json.RawMessage `json:"whatsappNumber"`
	ChatStatus         string          `json:"chatStatus"`
	ChannelPhoneNumber json.RawMessage `json:"channelPhoneNumber"`
}

// updateChatStatus serves POST updateChatStatus: the state of the
// contact's chat on one number, channelPhoneNumber's or the default. The
// contact must exist: a chat needs someone to chat with.
func (s *Server) updateChatStatus(w http.ResponseWriter, r *http.Request, tok domain.Token) error {
	body, err := request.Body(w, r)
	if err != nil {
		return err
	}
	var b chatStatusBody
	if err := decodeOptional(body, &b); err != nil {
		return err
	}
	var errs domain.FieldErrors
	q := r.URL.Query()
	number, ok := scalar(b.WhatsappNumber)
	if !ok {
		number = string(b.WhatsappNumber)
	}
	if number == "" {
		number = q.Get("whatsappNumber")
	}
	phone := parsePhone("whatsappNumber", number, &errs)
	st, err := domain.ParseChatStatus("chatStatus", b.ChatStatus)
	if err != nil {
		errs.Add("chatStatus", problemOf(err))
	}
	channel, ok := scalar(b.ChannelPhoneNumber)
	if !ok {
		errs.Add("channelPhoneNumber", "must be a phone number")
	}
	if channel == "" {
		channel = q.Get("channelPhoneNumber")
	}
	checkChannel("channelPhoneNumber", channel, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	channels, err := s.cat.Channels(r.Context(), tok.Tenant)
	if err != nil {
		return fmt.Errorf("channels of %s: %w", tok.Tenant, err)
	}
	ch, err := channelFor(channels, channel, tok.DefaultChannel, "channelPhoneNumber", true)
	if err != nil {
		return err
	}
	_, _, err = s.store.EditContact(r.Context(), tok.Tenant, phone, s.opt.Now().UTC(), func(c *domain.Contact, exists bool) error {
		if !exists {
			return errNoContact
		}
		c.SetChatStatus(ch.ID, st)
		return nil
	})
	if errors.Is(err, errNoContact) {
		return domain.Errorf(domain.KindNotFound, "no contact "+phone+": add it or wait for its first message")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contactAnswer{Result: true, Info: "chat status is " + string(st) + " on " + displayOf(ch)})
	return nil
}

// errNoContact stops an edit of a contact that does not exist.
var errNoContact = errors.New("no such contact")

// displayOf names a channel the way a Wati client does: by its number.
func displayOf(ch domain.Channel) string {
	if ch.DisplayNumber != "" {
		return ch.DisplayNumber
	}
	return ch.ID
}

package wati

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// Paging of getMessages: a page merges the newest pageNumber×pageSize
// messages of each way, so pages end at maxChatDepth.
const (
	defaultPageSize = 20
	maxPageSize     = 500
	maxChatDepth    = 10000
)

// Wati's event types: a chat message either way, or a template
// (broadcast) sent to the contact.
const (
	eventMessage   = "message"
	eventBroadcast = "broadcastMessage"
)

// messageItem is one message of getMessages.
type messageItem struct {
	ID                string  `json:"id"`
	Created           string  `json:"created"`
	ConversationID    *string `json:"conversationId"`
	EventType         string  `json:"eventType"`
	Text              string  `json:"text"`
	Type              string  `json:"type"`
	Timestamp         string  `json:"timestamp"`
	Owner             bool    `json:"owner"`
	StatusString      string  `json:"statusString"`
	FailedDetail      *string `json:"failedDetail"`
	WhatsappMessageID *string `json:"whatsappMessageId"`
	TemplateName      string  `json:"templateName,omitempty"`
	FinalText         string  `json:"finalText,omitempty"`
}

type messagesAnswer struct {
	Result   string `json:"result"`
	Messages struct {
		Items      []messageItem `json:"items"`
		PageNumber int           `json:"pageNumber"`
		PageSize   int           `json:"pageSize"`
		Total      int           `json:"total"`
	} `json:"messages"`
	Link link `json:"link"`
}

// getMessages serves GET getMessages/{whatsappNumber}: what the contact
// sent to one of the tenant's numbers and what was sent to it from there,
// merged newest first. channelPhoneNumber picks the number, the default
// one otherwise.
func (s *Server) getMessages(w http.ResponseWriter, r *http.Request, tok domain.Token) error {
	var errs domain.FieldErrors
	phone := parsePhone("whatsappNumber", chi.URLParam(r, "whatsappNumber"), &errs)
	size, number := page(r, defaultPageSize, maxPageSize, maxChatDepth, &errs)
	checkChannel("channelPhoneNumber", r.URL.Query().Get("channelPhoneNumber"), &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	channels, err := s.cat.Channels(r.Context(), tok.Tenant)
	if err != nil {
		return fmt.Errorf("channels of %s: %w", tok.Tenant, err)
	}
	ch, err := channelFor(channels, r.URL.Query().Get("channelPhoneNumber"), tok.DefaultChannel, "channelPhoneNumber", true)
	if err != nil {
		return err
	}
	items, total, err := s.store.Chat(r.Context(), tok.Tenant, ch.ID, phone, number*size)
	if err != nil {
		return err
	}
	var a messagesAnswer
	a.Result = "success"
	a.Messages.Items = []messageItem{}
	for i := (number - 1) * size; i < len(items); i++ {
		a.Messages.Items = append(a.Messages.Items, s.item(r.Context(), tok.Tenant, items[i]))
	}
	a.Messages.PageNumber, a.Messages.PageSize, a.Messages.Total = number, size, total
	a.Link = linkOf(r, size, number, total, maxChatDepth)
	writeJSON(w, http.StatusOK, a)
	return nil
}

// item renders one chat item in Wati's shape.
func (s *Server) item(ctx context.Context, tenant string, it store.ChatItem) messageItem {
	if in := it.Inbound; in != nil {
		// Wati shows every message as text: media, replies, reactions,
		// places and contact cards show what stands for them.
		return messageItem{
			ID: in.ID, Created: stamp(in.At), EventType: eventMessage, Text: in.Summary(), Type: in.Type,
			Timestamp: unix(in.At), StatusString: statusReceived, WhatsappMessageID: &in.ID,
		}
	}
	m := it.Message
	v := messageItem{
		ID: m.ID, Created: stamp(m.CreatedAt), EventType: eventMessage, Text: m.Text, Type: string(domain.MessageText),
		Timestamp: unix(m.CreatedAt), Owner: true, StatusString: statusString(m.Status),
		ConversationID: optional(m.ConversationID), WhatsappMessageID: optional(m.ProviderMessageID),
	}
	if m.Error != nil && (m.Status == domain.StatusFailed || m.Status == domain.StatusUnknown) {
		detail := m.Error.Title
		if m.Error.Code != 0 {
			detail = strconv.Itoa(m.Error.Code) + ": " + detail
		}
		v.FailedDetail = &detail
	}
	if !m.IsText() {
		v.EventType, v.Type, v.TemplateName = eventBroadcast, string(domain.MessageTemplate), m.Template.Name
		v.Text = s.templateText(ctx, tenant, *m)
		v.FinalText = v.Text
	}
	return v
}

// templateText is what the contact read of a template send. A template
// that can no longer be read shows its name: a listing does not fail for
// one message's text.
func (s *Server) templateText(ctx context.Context, tenant string, m domain.Message) string {
	tpl, err := s.cat.Template(ctx, tenant, m.TemplateID)
	if err != nil {
		logging.FromContext(ctx).Warn("wati: template of a listed message unreadable; showing its name", "messageId", m.ID, "templateId", m.TemplateID, "error", err.Error())
		return m.Template.Name
	}
	return domain.TemplateText(tpl, m.Template)
}

// statusReceived is the statusString of a message the contact sent.
const statusReceived = "RECEIVED"

// statusString is Wati's word for a message's state. Until Meta reports
// the message sent it is PENDING, whether still queued, with the provider,
// or of unknown outcome.
func statusString(st domain.Status) string {
	switch st {
	case domain.StatusSent:
		return "SENT"
	case domain.StatusDelivered:
		return "DELIVERED"
	case domain.StatusRead:
		return "READ"
	case domain.StatusFailed, domain.StatusCancelled:
		// A cancelled broadcast's message will never be sent: to a Wati
		// client it failed, not pending.
		return "FAILED"
	}
	return "PENDING"
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

package wati

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/request"
)

// sessionBody is sendSessionMessage's optional body; Wati takes both keys
// in the query too, where they win.
type sessionBody struct {
	MessageText        string          `json:"messageText"`
	ChannelPhoneNumber json.RawMessage `json:"channelPhoneNumber"`
}

// sessionCommand is one free-form text to send.
type sessionCommand struct {
	Phone   string
	Text    string
	Channel string // channel id, display number or sender code; "" = default
}

func parseSession(r *http.Request, body []byte) (sessionCommand, error) {
	var b sessionBody
	if err := decodeOptional(body, &b); err != nil {
		return sessionCommand{}, err
	}
	var errs domain.FieldErrors
	q := r.URL.Query()
	cmd := sessionCommand{Phone: parsePhone("whatsappNumber", chi.URLParam(r, "whatsappNumber"), &errs)}
	cmd.Text = b.MessageText
	if q.Has("messageText") {
		cmd.Text = q.Get("messageText")
	}
	if _, err := domain.ParseText("messageText", cmd.Text); err != nil {
		errs.Add("messageText", problemOf(err))
	}
	channel, ok := scalar(b.ChannelPhoneNumber)
	if !ok {
		errs.Add("channelPhoneNumber", "must be a phone number")
	}
	cmd.Channel = channel
	if q.Has("channelPhoneNumber") {
		cmd.Channel = q.Get("channelPhoneNumber")
	}
	checkChannel("channelPhoneNumber", cmd.Channel, &errs)
	return cmd, errs.Err()
}

// problemOf is the reason part of a one-field domain error ("…field:
// reason"), so it can join the other fields' reasons in one answer.
func problemOf(err error) string {
	var de *domain.Error
	if errors.As(err, &de) && len(de.Fields) == 1 {
		if _, reason, ok := strings.Cut(de.Message, de.Fields[0]+": "); ok {
			return reason
		}
	}
	return err.Error()
}

// sessionMessage is a session message in Wati's shape.
type sessionMessage struct {
	ID                string  `json:"id"`
	WhatsappMessageID *string `json:"whatsappMessageId"`
	ConversationID    *string `json:"conversationId"`
	TicketID          *string `json:"ticketId"`
	Text              string  `json:"text"`
	Type              string  `json:"type"`
	Created           string  `json:"created"`
	IsOwner           bool    `json:"isOwner"`
	Status            string  `json:"status"`
	StatusString      string  `json:"statusString"`
}

type sessionAnswer struct {
	Ok      bool           `json:"ok"`
	Result  string         `json:"result"`
	Message sessionMessage `json:"message"`
}

// sendSession serves POST sendSessionMessage/{whatsappNumber}: a
// free-form text, allowed only inside the customer-service window the
// contact's last message to the sending number opened. It answers as soon
// as the message is stored and queued; Meta's id follows in getMessages.
func (s *Server) sendSession(w http.ResponseWriter, r *http.Request, tok domain.Token) error {
	body, err := request.Body(w, r)
	if err != nil {
		return err
	}
	cmd, err := parseSession(r, body)
	if err != nil {
		return err
	}
	key, err := idempotency(r)
	if err != nil {
		return err
	}
	var idem *accept.Idempotency
	if key != "" {
		idem = &accept.Idempotency{Key: key, RequestHash: request.Hash(r, body)}
	}
	req := accept.Request{Text: cmd.Text, Phone: cmd.Phone, Channel: cmd.Channel, ChannelField: "channelPhoneNumber"}
	ans, err := s.sender.Send(r.Context(), tok, req, idem, func(res accept.Result) accept.Answer {
		return renderSession(res.Message, res.ConversationID)
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(ans.Code)
	_, _ = w.Write(ans.Body)
	return nil
}

// renderSession is sendSessionMessage's answer for a stored message.
func renderSession(m domain.Message, conversationID string) accept.Answer {
	a := sessionAnswer{Ok: true, Result: "success", Message: sessionMessage{
		ID: m.ID, Text: m.Text, Type: string(domain.MessageText), Created: stamp(m.CreatedAt),
		IsOwner: true, Status: string(m.Status), StatusString: statusString(m.Status),
	}}
	if conversationID != "" {
		a.Message.ConversationID = &conversationID
	}
	b, _ := json.Marshal(a) // strings only: always marshals
	return accept.Answer{Code: http.StatusOK, Body: b}
}

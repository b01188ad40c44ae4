package cloudchat

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
)

// conversationBody is Chatwoot's conversation object, the answer of
// POST /api/v1/accounts/{account_id}/conversations, trimmed to what the
// gateway knows.
type conversationBody struct {
	ID        string          `json:"id"`
	AccountID any             `json:"account_id"`
	InboxID   json.RawMessage `json:"inbox_id"`
	Status    string          `json:"status"`
	Contact   contactBody     `json:"contact"`
	Messages  []messageBody   `json:"messages"`
	CreatedAt int64           `json:"created_at"`
	Timestamp int64           `json:"timestamp"`
	Meta      metaBody        `json:"meta"`
}

// contactBody is the recipient. Its number is masked like every number
// the gateway answers with: the client knows it, and answers end up in
// clients' logs.
type contactBody struct {
	Name        string `json:"name"`
	PhoneNumber string `json:"phone_number"`
}

type messageBody struct {
	ID          string `json:"id"`
	Content     string `json:"content"`
	MessageType string `json:"message_type"`
	Status      string `json:"status"`
	CreatedAt   int64  `json:"created_at"`
}

type metaBody struct {
	Sender  contactBody `json:"sender"`
	Channel string      `json:"channel"`
}

// view is what the answer shows besides the accept path's result.
type view struct {
	account string
	inbox   json.RawMessage
	phone   string
	name    string
	content string
	at      time.Time
}

// render is the accept.Render of a CloudChat send: always 200, as Chatwoot
// answers a created conversation. A send into an open conversation shows
// that conversation's id and the message sent; any other shows the
// message's id as the conversation's, since Meta has not opened one yet,
// and the message pending.
func (v view) render(res accept.Result) accept.Answer {
	id, status := res.MessageID, "pending"
	if res.Status == domain.StatusSent && res.ConversationID != "" {
		id, status = res.ConversationID, "sent"
	}
	c := contactBody{Name: v.name, PhoneNumber: "+" + domain.MaskPhone(v.phone)}
	if c.Name == "" {
		c.Name = c.PhoneNumber
	}
	at := v.at.Unix()
	body, err := json.Marshal(conversationBody{
		ID: id, AccountID: accountValue(v.account), InboxID: v.inbox, Status: "open",
		Contact: c,
		Messages: []messageBody{{
			ID: res.MessageID, Content: v.content, MessageType: "template", Status: status, CreatedAt: at,
		}},
		CreatedAt: at, Timestamp: at,
		Meta: metaBody{Sender: c, Channel: "Channel::Whatsapp"},
	})
	if err != nil {
		// Unreachable: every field is a string, a number, or inbox_id's
		// JSON as the parser checked it.
		return accept.Answer{Code: http.StatusInternalServerError, Body: []byte(`{"error":"internal error"}`)}
	}
	return accept.Answer{Code: http.StatusOK, Body: body}
}

// accountValue shows the account id as Chatwoot does, a number, when the
// tenant id is one; any other tenant id stays a string.
func accountValue(account string) any {
	if n, err := strconv.ParseInt(account, 10, 64); err == nil && n >= 0 && strconv.FormatInt(n, 10) == account {
		return json.Number(account)
	}
	return account
}

// placeholderText matches a placeholder as domain.Placeholders reads them;
// content only replaces the ones it lists.
var placeholderText = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.]+)\s*\}\}`)

// content is the body text the contact reads: the template's body with its
// placeholders filled from params.
func content(t domain.Template, params map[string]string) string {
	body := t.Body()
	keys := map[string]bool{}
	for _, k := range domain.Placeholders(body) {
		keys[k] = true
	}
	return placeholderText.ReplaceAllStringFunc(body, func(m string) string {
		k := strings.TrimSpace(m[2 : len(m)-2])
		if !keys[k] {
			return m
		}
		return params[k]
	})
}

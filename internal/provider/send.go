package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// SendRequest is one message to send from one business number: a
// template, or a free-form text when Text is set.
type SendRequest struct {
	PhoneNumberID string
	AccessToken   string
	To            string // the recipient, digits with country code
	Template      domain.TemplateMessage
	// Text, when not empty, is sent as a free-form text message instead of
	// Template; Meta delivers it only inside the contact's 24-hour
	// customer-service window (else 131047).
	Text string
	// CallbackData is echoed by Meta in status webhooks as
	// biz_opaque_callback_data; the gateway puts its message id here so an
	// Unknown send can be reconciled from the webhook.
	CallbackData string
}

// Result is Meta's acceptance of a send.
type Result struct {
	WAMID string
	// MessageStatus is Meta's word for the acceptance, usually "accepted",
	// sometimes "held_for_quality_assessment"; empty when Meta gave none.
	// It is an open set.
	MessageStatus string
}

type sendBody struct {
	MessagingProduct string                  `json:"messaging_product"`
	RecipientType    string                  `json:"recipient_type"`
	To               string                  `json:"to"`
	Type             string                  `json:"type"`
	Template         *domain.TemplateMessage `json:"template,omitempty"`
	Text             *textBody               `json:"text,omitempty"`
	CallbackData     string                  `json:"biz_opaque_callback_data,omitempty"`
}

// textBody is Meta's "text" object. Link previews stay off (Meta's
// default): the gateway cannot know whether a tenant wants them.
type textBody struct {
	Body string `json:"body"`
}

type sendAnswer struct {
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
}

// Send posts one template message. Its error is always an *Error (reach it
// with errors.As) whose Class tells the caller whether it may send again:
// only Retryable may be resent at once, Unknown never blindly.
func (c *Client) Send(ctx context.Context, r SendRequest) (Result, error) {
	res, err := c.send(ctx, r)
	if err != nil {
		what := r.Template.Name
		if r.Text != "" {
			what = "text"
		}
		return Result{}, fmt.Errorf("send %s to %s: %w", what, mask(r.To), err)
	}
	return res, nil
}

func (c *Client) send(ctx context.Context, r SendRequest) (Result, error) {
	if r.PhoneNumberID == "" || r.AccessToken == "" || r.To == "" {
		return Result{}, &Error{Class: Permanent, Title: "phone number id, access token and recipient are required"}
	}
	sb := sendBody{
		MessagingProduct: "whatsapp",
		RecipientType:    "individual",
		To:               r.To,
		Type:             "template",
		Template:         &r.Template,
		CallbackData:     r.CallbackData,
	}
	if r.Text != "" {
		sb.Type, sb.Template, sb.Text = "text", nil, &textBody{Body: r.Text}
	}
	body, err := json.Marshal(sb)
	if err != nil {
		return Result{}, &Error{Class: Permanent, Title: "message cannot be encoded", Details: err.Error(), cause: err}
	}
	ans, err := c.do(ctx, http.MethodPost, c.endpoint(url.PathEscape(r.PhoneNumberID), "messages"), r.AccessToken, body, Unknown)
	if err != nil {
		return Result{}, err
	}
	if ans.status < 200 || ans.status > 299 {
		e := decodeError(ans.status, ans.body)
		if d := headerRetryAfter(ans.header); d > e.RetryAfter {
			e.RetryAfter = d
		}
		return Result{}, e
	}
	var sa sendAnswer
	if err := json.Unmarshal(ans.body, &sa); err != nil || len(sa.Messages) == 0 || sa.Messages[0].ID == "" {
		// Meta said yes in a way we cannot read: it may well have accepted
		// the message, so this is Unknown, never Retryable.
		return Result{}, &Error{HTTPStatus: ans.status, Class: Unknown,
			Title: "success answer without a message id", Details: snippet(ans.body)}
	}
	return Result{WAMID: sa.Messages[0].ID, MessageStatus: sa.Messages[0].MessageStatus}, nil
}

// headerRetryAfter reads a Retry-After in seconds, which a proxy in front
// of Meta may send; Meta itself does not.
func headerRetryAfter(h http.Header) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The fields of Meta's account-level webhooks the sandbox can post.
const (
	FieldTemplateStatus   = "message_template_status_update"
	FieldTemplateQuality  = "message_template_quality_update"
	FieldTemplateCategory = "template_category_update"
	FieldUserPreferences  = "user_preferences"
)

// TemplateEvent is one of Meta's template events, as POST
// /_sandbox/templates/events takes it. Field picks the kind: a status
// event sets Event (APPROVED, REJECTED, PAUSED, DISABLED, PENDING_DELETION,
// REINSTATED…) and Reason; a quality event sets Quality (GREEN, YELLOW,
// RED, UNKNOWN); a category event sets Category. The template changes in
// the sandbox too: a PAUSED or DISABLED one is refused with 132015 or
// 132016, as Meta does.
type TemplateEvent struct {
	WABAID   string `json:"waba_id"`
	Field    string `json:"field"`
	Name     string `json:"name"`
	Language string `json:"language"`
	Event    string `json:"event,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Quality  string `json:"quality,omitempty"`
	Category string `json:"category,omitempty"`
}

// accountEnvelope is an account-level webhook: entry[].id is the WABA id
// and the change's value is the event itself, without metadata.
type accountEnvelope struct {
	Object string         `json:"object"`
	Entry  []accountEntry `json:"entry"`
}

type accountEntry struct {
	ID      string          `json:"id"`
	Time    int64           `json:"time"`
	Changes []accountChange `json:"changes"`
}

type accountChange struct {
	Field string `json:"field"`
	Value any    `json:"value"`
}

var errInvalidEvent = errors.New("invalid event")

// EmitTemplateEvent changes a template of the sandbox as e says and posts
// Meta's webhook for it.
func (s *Sandbox) EmitTemplateEvent(ctx context.Context, e TemplateEvent) error {
	if e.WABAID == "" && len(s.cfg.Numbers) > 0 {
		e.WABAID = s.cfg.Numbers[0].WABAID
	}
	w, ok := s.wabas[e.WABAID]
	if !ok {
		return fmt.Errorf("%w: unknown WABA id %q", errInvalidEvent, e.WABAID)
	}
	t, ok := w.byKey[templateKey(e.Name, e.Language)]
	if !ok {
		return fmt.Errorf("%w: no template %s in %s", errInvalidEvent, e.Name, e.Language)
	}
	id, _ := strconv.ParseInt(t.ID, 10, 64)
	var value map[string]any
	w.mu.Lock()
	switch e.Field {
	case FieldTemplateStatus:
		if e.Event == "" {
			w.mu.Unlock()
			return fmt.Errorf("%w: event is required", errInvalidEvent)
		}
		status := strings.ToUpper(e.Event)
		if status == "REINSTATED" {
			status = "APPROVED"
		}
		t.Status = status
		value = map[string]any{"event": strings.ToUpper(e.Event), "reason": cmpOr(e.Reason, "NONE"), "message_template_category": t.Category}
	case FieldTemplateQuality:
		value = map[string]any{"previous_quality_score": "UNKNOWN", "new_quality_score": strings.ToUpper(e.Quality)}
	case FieldTemplateCategory:
		value = map[string]any{"previous_category": t.Category, "new_category": strings.ToUpper(e.Category)}
		t.Category = strings.ToUpper(e.Category)
	default:
		w.mu.Unlock()
		return fmt.Errorf("%w: field must be %s, %s or %s", errInvalidEvent, FieldTemplateStatus, FieldTemplateQuality, FieldTemplateCategory)
	}
	w.mu.Unlock()
	value["message_template_id"] = id
	value["message_template_name"] = t.Name
	value["message_template_language"] = t.Language
	return s.postAccount(ctx, e.WABAID, e.Field, value, Webhook{Kind: "template"})
}

// UserPreference is a contact stopping or resuming marketing messages from
// a business number, as POST /_sandbox/user_preferences takes it.
type UserPreference struct {
	PhoneNumberID string `json:"phone_number_id"`
	From          string `json:"from"`
	Value         string `json:"value"` // stop or resume
}

// EmitUserPreference posts Meta's user_preferences webhook.
func (s *Sandbox) EmitUserPreference(ctx context.Context, p UserPreference) error {
	if p.PhoneNumberID == "" && len(s.cfg.Numbers) > 0 {
		p.PhoneNumberID = s.cfg.Numbers[0].PhoneNumberID
	}
	n, ok := s.numbers[p.PhoneNumberID]
	if !ok {
		return fmt.Errorf("%w: unknown phone number id %q", errInvalidEvent, p.PhoneNumberID)
	}
	if p.Value != "stop" && p.Value != "resume" {
		return fmt.Errorf("%w: value must be stop or resume", errInvalidEvent)
	}
	if p.From == "" {
		return fmt.Errorf("%w: from is required", errInvalidEvent)
	}
	detail := "User requested to stop marketing messages"
	if p.Value == "resume" {
		detail = "User requested to resume marketing messages"
	}
	value := map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          metadata{DisplayPhoneNumber: n.DisplayPhoneNumber, PhoneNumberID: n.PhoneNumberID},
		"contacts":          []contact{{Profile: profile{Name: p.From}, WAID: p.From}},
		"user_preferences": []map[string]any{{
			"wa_id": p.From, "detail": detail, "category": "marketing_messages", "value": p.Value,
			"timestamp": time.Now().Unix(),
		}},
	}
	return s.postAccount(ctx, n.WABAID, FieldUserPreferences, value, Webhook{Kind: "user_preferences", PhoneNumberID: p.PhoneNumberID, Contact: p.From})
}

// postAccount posts one account-level change, signed as Meta signs.
func (s *Sandbox) postAccount(ctx context.Context, wabaID, field string, value any, rec Webhook) error {
	to, ok := s.webhook()
	if !ok {
		return ErrNoWebhook
	}
	if !s.bg.start() {
		return ErrClosed
	}
	defer s.bg.done()
	body, err := metaJSON(accountEnvelope{Object: "whatsapp_business_account", Entry: []accountEntry{{
		ID: wabaID, Time: time.Now().Unix(), Changes: []accountChange{{Field: field, Value: value}},
	}}})
	if err != nil {
		return fmt.Errorf("encode %s webhook: %w", field, err)
	}
	return s.deliver(ctx, to, rec, body)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// handleTemplateEvent serves POST /_sandbox/templates/events.
func (s *Sandbox) handleTemplateEvent(w http.ResponseWriter, r *http.Request) {
	var e TemplateEvent
	if !decodeControl(w, r, &e) {
		return
	}
	s.answerControl(w, s.EmitTemplateEvent(r.Context(), e))
}

// handleUserPreference serves POST /_sandbox/user_preferences.
func (s *Sandbox) handleUserPreference(w http.ResponseWriter, r *http.Request) {
	var p UserPreference
	if !decodeControl(w, r, &p) {
		return
	}
	s.answerControl(w, s.EmitUserPreference(r.Context(), p))
}

// decodeControl reads a control endpoint's body strictly, so a misspelt
// field fails instead of vanishing.
func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReplyBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, &apiError{status: http.StatusBadRequest, code: 100, message: titles[100], details: fmt.Sprintf("body is not valid: %v", err)})
		return false
	}
	return true
}

func (s *Sandbox) answerControl(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	case errors.Is(err, errInvalidEvent), errors.Is(err, ErrNoWebhook):
		writeError(w, &apiError{status: http.StatusBadRequest, code: 100, message: titles[100], details: err.Error()})
	case errors.Is(err, ErrClosed):
		writeError(w, metaError(http.StatusServiceUnavailable, 131000, err.Error()))
	default:
		writeError(w, metaError(http.StatusBadGateway, 131000, err.Error()))
	}
}

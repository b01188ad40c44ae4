package wati

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/request"
)

// MaxBulkBody bounds sendTemplateMessages' body: about 50,000 receivers
// with a few params each. Larger broadcasts are split by the client.
const MaxBulkBody = 8 << 20

// bulkBody is sendTemplateMessages' body. Receivers stay raw so one bad
// receiver is reported alone instead of failing the whole body.
type bulkBody struct {
	TemplateName  string            `json:"template_name"`
	BroadcastName string            `json:"broadcast_name"`
	Receivers     []json.RawMessage `json:"receivers"`
	ChannelNumber json.RawMessage   `json:"channelNumber"`
	// ScheduledDateTime, the gateway's addition, schedules the broadcast:
	// ISO-8601 with its offset (domain.ParseSendAt).
	ScheduledDateTime *string `json:"scheduledDateTime"`
}

type receiverBody struct {
	WhatsappNumber json.RawMessage `json:"whatsappNumber"`
	CustomParams   json.RawMessage `json:"customParams"`
}

// bulkErrors is the "errors" block of sendTemplateMessages' answers.
type bulkErrors struct {
	Error          *string  `json:"error"`
	InvalidNumbers []string `json:"invalidWhatsappNumbers"`
	InvalidParams  []string `json:"invalidCustomParameters"`
}

type bulkAnswer struct {
	Result bool       `json:"result"`
	Errors bulkErrors `json:"errors"`
	// BatchID, the gateway's addition, is the broadcast's id in the
	// batches API (GET /batches/{id}).
	BatchID string `json:"batchId,omitempty"`
}

// sendTemplates serves POST sendTemplateMessages: one template to many
// receivers. Each receiver is checked here (number, params against the
// template); the valid ones go to the batch service, which stores them and
// sends them in the background, and the others are reported by number in
// invalidWhatsappNumbers and invalidCustomParameters. A number listed twice
// is sent once, to the first. With no valid receiver nothing is stored and
// the answer is 400.
func (s *Server) sendTemplates(w http.ResponseWriter, r *http.Request, tok domain.Token) error {
	raw, err := readBody(w, r, MaxBulkBody)
	if err != nil {
		return err
	}
	var b bulkBody
	if err := request.DecodeObject(raw, &b); err != nil {
		return err
	}
	channel, ok := scalar(b.ChannelNumber)
	if !ok {
		return domain.Errorf(domain.KindInvalid, "invalid fields: channelNumber: must be a phone number", "channelNumber")
	}
	var errs domain.FieldErrors
	domain.CheckLen(&errs, "template_name", b.TemplateName, domain.MaxTemplateRef)
	domain.CheckLen(&errs, "broadcast_name", b.BroadcastName, domain.MaxLabel)
	checkChannel("channelNumber", channel, &errs)
	var sendAt time.Time
	if b.ScheduledDateTime != nil {
		var problem string
		if sendAt, problem = domain.ParseSendAt(*b.ScheduledDateTime, time.Now()); problem != "" {
			errs.Add("scheduledDateTime", problem)
		}
	}
	if err := errs.Err(); err != nil {
		return err
	}
	if len(b.Receivers) == 0 {
		return domain.Errorf(domain.KindInvalid, "invalid fields: receivers: at least one receiver is required", "receivers")
	}
	if strings.TrimSpace(b.TemplateName) == "" {
		return domain.Errorf(domain.KindTemplate, "template without id or message: template_name is required", "template_name")
	}
	plan, err := s.sender.AdmitBulk(r.Context(), tok, accept.BulkRequest{TemplateName: b.TemplateName, Channel: channel})
	if err != nil {
		return inWatiTerms(err)
	}
	valid, report, err := checkReceivers(plan.Template, b.Receivers)
	if err != nil {
		return err
	}
	if len(valid) == 0 {
		msg := "no valid receivers: every receiver has a bad whatsappNumber or customParams"
		report.Error = &msg
		writeJSON(w, http.StatusBadRequest, failureWith(msg, report))
		return nil
	}
	spec := batch.Spec{Source: "wati", Name: b.BroadcastName, TemplateName: plan.Template.Name, Channel: channel, SendAt: sendAt}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		spec.IdempotencyKey = key
		spec.RequestHash = func() string { return request.Hash(r, raw) }
	}
	i := 0
	res, err := s.batches.Create(r.Context(), tok, spec, func() (batch.Recipient, bool, error) {
		if i == len(valid) {
			return batch.Recipient{}, false, nil
		}
		i++
		return valid[i-1], true, nil
	})
	if err != nil {
		return inWatiTerms(err)
	}
	logging.FromContext(r.Context()).Info("wati: broadcast accepted", "tenant", tok.Tenant, "batch", res.ID,
		"accepted", res.Accepted, "invalid", len(report.InvalidNumbers)+len(report.InvalidParams), "replayed", res.Replayed)
	writeJSON(w, http.StatusOK, bulkAnswer{Result: true, Errors: report, BatchID: res.Code})
	return nil
}

// checkReceivers splits the receivers into those to send and the report
// of the others. Only a receiver that is not a JSON object fails the whole
// request, since the body is not Wati's then, and so do more receivers
// than a batch takes.
func checkReceivers(tpl domain.Template, receivers []json.RawMessage) ([]batch.Recipient, bulkErrors, error) {
	report := bulkErrors{InvalidNumbers: []string{}, InvalidParams: []string{}}
	var errs domain.FieldErrors
	if !domain.CheckCount(&errs, "receivers", len(receivers), batch.DefaultMaxRecipients) {
		return nil, report, errs.Err()
	}
	var valid []batch.Recipient
	seen := map[string]bool{}
	for i, raw := range receivers {
		var rb receiverBody
		if err := request.DecodeObject(raw, &rb); err != nil {
			at := "receivers[" + strconv.Itoa(i) + "]"
			return nil, report, domain.Errorf(domain.KindInvalid, "invalid fields: "+at+": must be an object {whatsappNumber, customParams}", at)
		}
		number, ok := scalar(rb.WhatsappNumber)
		if !ok {
			number = string(rb.WhatsappNumber)
		}
		number = clip(number)
		phone, err := domain.ParseE164(number)
		if err != nil {
			report.InvalidNumbers = append(report.InvalidNumbers, number)
			continue
		}
		if seen[phone] {
			continue
		}
		params, problem := receiverParams(tpl, rb.CustomParams)
		if problem != "" {
			report.InvalidParams = append(report.InvalidParams, number+": "+problem)
			continue
		}
		seen[phone] = true
		valid = append(valid, batch.Recipient{Phone: phone, Raw: number, Params: params})
	}
	return valid, report, nil
}

// receiverParams reads one receiver's customParams and checks them
// against the template; problem says what is wrong, "" when nothing is.
func receiverParams(tpl domain.Template, raw json.RawMessage) (map[string]string, string) {
	var list []nameValue
	if raw = bytes.TrimSpace(raw); len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, "customParams: must be a list of {name, value}"
		}
	}
	var errs domain.FieldErrors
	var params map[string]string
	if checkPairs("customParams", list, domain.MaxSendParams, templateValue, &errs) {
		params = pairs("customParams", list, &errs)
	}
	if err := errs.Err(); err != nil {
		return nil, err.Error()
	}
	if _, err := domain.Render(tpl, params); err != nil {
		return nil, err.Error()
	}
	return params, ""
}

// clip keeps a reported value short: it echoes what the client sent,
// which may be anything.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return strings.ToValidUTF8(s[:most], "") + "…"
}

// failureWith is a failed broadcast's answer with its report.
func failureWith(info string, report bulkErrors) failure {
	return failure{Info: info, Errors: &report}
}

// specFields are the Wati names of the batch.Spec fields a refused batch
// names (batch's errors name Spec fields, for each dialect to word).
var specFields = map[string]string{
	"template": "template_name", "channel": "channelNumber", "code": "Idempotency-Key", "recipients": "receivers",
}

// inWatiTerms words a batch service's refusal with Wati's field names.
func inWatiTerms(err error) error {
	var de *domain.Error
	if !errors.As(err, &de) || len(de.Fields) != 1 {
		return err
	}
	name, ok := specFields[de.Fields[0]]
	if !ok {
		return err
	}
	return &domain.Error{Kind: de.Kind, Message: name + ": " + de.Message, Fields: []string{name}}
}

package atom

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/request"
)

// sendBody is POST /'s body (DESIGN §2). Typed fields make a wrong JSON
// type a 400 that names the field.
type sendBody struct {
	TemplateID    string                     `json:"templateId"`
	PhoneNumber   string                     `json:"phoneNumber"`
	FirstName     string                     `json:"firstName"`
	LastName      string                     `json:"lastName"`
	ClientName    string                     `json:"clientName"`
	GroupName     string                     `json:"groupName"`
	Assign        bool                       `json:"assign"`
	Params        map[string]json.RawMessage `json:"params"`
	ChannelNumber string                     `json:"channelNumber"`
}

// parseSend turns a body into the send command, naming every bad field.
func parseSend(body []byte) (accept.Request, error) {
	var b sendBody
	if err := request.DecodeObject(body, &b); err != nil {
		return accept.Request{}, err
	}
	var errs domain.FieldErrors
	domain.CheckLen(&errs, "templateId", b.TemplateID, domain.MaxTemplateRef)
	phone, err := domain.ParsePhone(b.PhoneNumber)
	if err != nil {
		errs.Add("phoneNumber", phoneProblem(b.PhoneNumber))
	}
	domain.CheckLen(&errs, "firstName", b.FirstName, domain.MaxNameLength)
	domain.CheckLen(&errs, "lastName", b.LastName, domain.MaxNameLength)
	domain.CheckLen(&errs, "clientName", b.ClientName, domain.MaxNameLength)
	domain.CheckLen(&errs, "groupName", b.GroupName, domain.MaxLabel)
	domain.CheckLen(&errs, "channelNumber", b.ChannelNumber, domain.MaxChannelRef)
	params := checkParams(b.Params, &errs)
	if err := errs.Err(); err != nil {
		return accept.Request{}, err
	}
	return accept.Request{
		TemplateID: b.TemplateID, Phone: phone,
		FirstName: b.FirstName, LastName: b.LastName, ClientName: b.ClientName, GroupName: b.GroupName,
		Assign: b.Assign, Params: params, Channel: b.ChannelNumber,
	}, nil
}

// checkParams decodes params within their bounds: how many, each key's
// length, each value's length for its kind (body, header, button). Keys
// are visited in order, so one body gets one answer.
func checkParams(raw map[string]json.RawMessage, errs *domain.FieldErrors) map[string]string {
	if !domain.CheckCount(errs, "params", len(raw), domain.MaxSendParams) {
		return nil
	}
	keys := slices.Sorted(maps.Keys(raw))
	fit := make(map[string]json.RawMessage, len(raw))
	for _, k := range keys {
		if domain.CheckKey(errs, "params", k, domain.MaxParamNameLength) {
			fit[k] = raw[k]
		}
	}
	params := request.Params("params", fit, errs)
	for _, k := range keys {
		if v, ok := params[k]; ok {
			domain.CheckParam(errs, domain.FieldName("params", k), k, v)
		}
	}
	return params
}

func phoneProblem(s string) string {
	if s == "" {
		return "required"
	}
	return "must be digits only, country code first, without '+' (e.g. 50755667788), and a possible number for that country"
}

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	tok, err := s.authenticate(r, domain.ScopeSend)
	if err != nil {
		writeError(w, r, err, 0)
		return
	}
	body, err := request.Body(w, r)
	if err != nil {
		writeError(w, r, err, 0)
		return
	}
	req, err := parseSend(body)
	if err != nil {
		writeError(w, r, err, 0)
		return
	}
	var idem *accept.Idempotency
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if err := domain.CheckIdempotencyKey(key); err != nil {
			writeError(w, r, err, 0)
			return
		}
		idem = &accept.Idempotency{Key: key, RequestHash: request.Hash(r, body)}
	}
	ans, err := s.sender.Send(r.Context(), tok, req, idem, func(res accept.Result) accept.Answer {
		return renderResult(res, tok.PendingCode)
	})
	if err != nil {
		writeError(w, r, err, 0)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(ans.Code)
	_, _ = w.Write(ans.Body)
}

// renderResult is Atom's answer to an accepted send: 200 Sent with the
// conversation when the send went into an open conversation, else Pending
// with the integration's code (202 by default, 200 for seed 001 clients).
func renderResult(res accept.Result, pendingCode int) accept.Answer {
	e := envelope{Success: true, Data: map[string]any{"message_id": res.MessageID}}
	code := http.StatusAccepted
	if pendingCode == http.StatusOK {
		code = http.StatusOK
	}
	e.Message = "Pending"
	if res.Status == domain.StatusSent {
		code, e.Message = http.StatusOK, "Sent"
		e.Data["conversation_id"] = res.ConversationID
	}
	body, _ := json.Marshal(e)
	return accept.Answer{Code: code, Body: body}
}

package sandbox

import (
	"context"
	"time"
)

// undeliverable is the error a …0009 send's failed status carries.
var undeliverable = statusError{
	Code:    131026,
	Title:   "Message undeliverable",
	Message: "Message undeliverable",
	ErrorData: statusErrorData{
		Details: "the recipient is not on WhatsApp, uses an old app or has not accepted the terms",
	},
}

// afterAccept posts req's statuses in the background when a webhook URL is
// set: sent, delivered and read, or failed for a recipient the failure
// table makes undeliverable after acceptance. The price is settled here,
// at acceptance, as Meta settles it when it takes the message.
func (s *Sandbox) afterAccept(req Request) {
	n := s.numbers[req.PhoneNumberID]
	now := time.Now()
	price := s.priceOf(n, req, now)
	s.windows.sent(pairKey{req.PhoneNumberID, req.To}, req.WAMID)
	to, ok := s.webhook()
	if !ok {
		return
	}
	var seq []statusUpdate
	if failsLater(req.To) {
		seq = []statusUpdate{{Status: "failed", Errors: []statusError{undeliverable}}}
	} else {
		// Meta prices the sent status and one of delivered or read.
		seq = []statusUpdate{{Status: "sent", Pricing: &price}, {Status: "delivered", Pricing: &price}, {Status: "read"}}
	}
	for i := range seq {
		seq[i].ID, seq[i].RecipientID, seq[i].CallbackData = req.WAMID, req.To, req.CallbackData
	}
	s.bg.do(func(ctx context.Context) {
		for _, st := range seq {
			if sleep(ctx, s.cfg.WebhookDelay) != nil {
				return
			}
			st.Timestamp = unixString(time.Now())
			rec := Webhook{Kind: "status", PhoneNumberID: n.PhoneNumberID, WAMID: st.ID,
				Status: st.Status, Contact: st.RecipientID, CallbackData: st.CallbackData}
			body, err := payload(n, value{Statuses: []statusUpdate{st}})
			if err != nil {
				rec.Error = err.Error()
				s.recordWebhook(rec)
				continue
			}
			// A status given up on does not hold back the next: Meta
			// sends each one on its own.
			_ = s.deliver(ctx, to, rec, body)
		}
	})
}

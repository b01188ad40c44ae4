package sandbox

import "net/http"

type requestsAnswer struct {
	Requests []Request `json:"requests"`
}

// handleListRequests serves GET /_sandbox/requests, optionally filtered by
// ?to= and ?callback=, for tests in other processes and curious users.
func (s *Sandbox) handleListRequests(w http.ResponseWriter, r *http.Request) {
	to, callback := r.URL.Query().Get("to"), r.URL.Query().Get("callback")
	out := []Request{}
	for _, req := range s.Requests() {
		if (to == "" || req.To == to) && (callback == "" || req.CallbackData == callback) {
			out = append(out, req)
		}
	}
	writeJSON(w, http.StatusOK, requestsAnswer{Requests: out})
}

// handleReset serves DELETE /_sandbox/requests.
func (s *Sandbox) handleReset(w http.ResponseWriter, r *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}

type webhooksAnswer struct {
	Webhooks []Webhook `json:"webhooks"`
}

// handleListWebhooks serves GET /_sandbox/webhooks, optionally filtered by
// ?wamid= and ?callback=.
func (s *Sandbox) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	wamid, callback := r.URL.Query().Get("wamid"), r.URL.Query().Get("callback")
	out := []Webhook{}
	for _, h := range s.Webhooks() {
		if (wamid == "" || h.WAMID == wamid) && (callback == "" || h.CallbackData == callback) {
			out = append(out, h)
		}
	}
	writeJSON(w, http.StatusOK, webhooksAnswer{Webhooks: out})
}

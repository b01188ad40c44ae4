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

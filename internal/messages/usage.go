package messages

import (
	"net/http"

	"github.com/go-chi/render"

	"github.com/templategw/templategw/internal/domain"
)

// handleUsage serves GET /usage?month=YYYY-MM: the tenant's messages Meta
// reported billable in a calendar month (UTC; default the current one),
// in all and per channel, by pricing category. It reads the month's
// usage counters, never the messages.
func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request) {
	tok, err := s.authenticate(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	month := domain.MonthKey(s.Now())
	if q := r.URL.Query(); q.Has("month") {
		if month, err = domain.ParseMonth("month", q.Get("month")); err != nil {
			writeError(w, r, err)
			return
		}
	}
	counts, err := s.store.Usage(r.Context(), tok.Tenant, month)
	if err != nil {
		writeError(w, r, err)
		return
	}
	render.JSON(w, r, domain.SumUsage(month, counts))
}

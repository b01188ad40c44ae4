package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/templategw/templategw/internal/domain"
)

// defaultPageSize is Meta's page size when the request gives no limit.
const defaultPageSize = 25

// defaultFields are what the list returns when the request names no
// fields: what REFERENCE §5 asks for. id is always returned, as by Meta.
var defaultFields = []string{"name", "language", "status", "category", "components", "parameter_format"}

type listAnswer struct {
	Data   []map[string]json.RawMessage `json:"data"`
	Paging paging                       `json:"paging"`
}

type paging struct {
	Cursors cursors `json:"cursors"`
	Next    string  `json:"next,omitempty"`
}

type cursors struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

// handleTemplates serves GET /{version}/{waba-id}/message_templates with
// Meta's cursor paging.
func (s *Sandbox) handleTemplates(w http.ResponseWriter, r *http.Request) {
	wabaID := r.PathValue("wabaID")
	wb, ok := s.wabas[wabaID]
	if !ok {
		writeError(w, &apiError{status: 400, code: 100, subcode: 33,
			message: fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", wabaID),
			details: "unknown WhatsApp Business Account id"})
		return
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" || !wb.tokens[token] || s.tokenRevoked(token) {
		writeError(w, tokenError())
		return
	}
	q := r.URL.Query()
	limit := defaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeError(w, &apiError{status: 400, code: 100, message: titles[100], details: "limit must be a positive integer"})
			return
		}
		limit = n
	}
	start := 0
	if v := q.Get("after"); v != "" {
		n, ok := decodeCursor(v)
		if !ok || n > len(wb.templates) {
			writeError(w, &apiError{status: 400, code: 100, message: titles[100], details: "after is not a cursor this endpoint gave"})
			return
		}
		start = n
	}
	fields := defaultFields
	if v := q.Get("fields"); v != "" {
		fields = strings.Split(v, ",")
	}
	end := min(start+limit, len(wb.templates))
	ans := listAnswer{Data: []map[string]json.RawMessage{}}
	wb.mu.RLock()
	for _, t := range wb.templates[start:end] {
		ans.Data = append(ans.Data, pick(t, fields))
	}
	wb.mu.RUnlock()
	if end > start {
		ans.Paging.Cursors = cursors{Before: encodeCursor(start), After: encodeCursor(end)}
	}
	if end < len(wb.templates) {
		ans.Paging.Next = nextURL(r, q, ans.Paging.Cursors.After)
	}
	writeMeta(w, http.StatusOK, ans)
}

// pick renders the requested fields of t, plus its id.
func pick(t domain.Template, fields []string) map[string]json.RawMessage {
	raw, _ := json.Marshal(t) // a struct of strings and slices always marshals
	var all map[string]json.RawMessage
	_ = json.Unmarshal(raw, &all)
	out := map[string]json.RawMessage{"id": all["id"]}
	for _, f := range fields {
		if v, ok := all[strings.TrimSpace(f)]; ok {
			out[strings.TrimSpace(f)] = v
		}
	}
	return out
}

// Cursors are opaque to clients, as Meta's are; inside they are offsets.
func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

func decodeCursor(c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), "offset:")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

// nextURL is the absolute URL of the next page, on the host the client
// called, as Meta gives it. Unlike Meta's, it never carries the access
// token: the client sends that in its header again.
func nextURL(r *http.Request, q url.Values, after string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	next := url.Values{}
	for k, v := range q {
		next[k] = v
	}
	next.Set("after", after)
	u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: next.Encode()}
	return u.String()
}

package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
)

// apiError is one error answer in Meta's Graph API shape.
type apiError struct {
	status  int
	code    int
	subcode int
	message string
	details string
}

// Meta's titles for the codes the sandbox produces. Clients must branch on
// the code, never on these strings, exactly as with Meta.
var titles = map[int]string{
	100:    "(#100) Invalid parameter",
	190:    "Error validating access token",
	130429: "(#130429) Rate limit hit",
	131000: "(#131000) Something went wrong",
	131026: "(#131026) Message Undeliverable",
	131047: "(#131047) Re-engagement message",
	131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
	132000: "(#132000) Number of parameters does not match the expected number of params",
	132001: "(#132001) Template name does not exist in the translation",
	132012: "(#132012) Parameter format does not match format in the created template",
	132015: "(#132015) Template is Paused",
	132016: "(#132016) Template is Disabled",
}

// metaError builds an error whose title is Meta's for code.
func metaError(status, code int, details string) *apiError {
	return &apiError{status: status, code: code, message: titles[code], details: details}
}

type errorBody struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Message   string    `json:"message"`
	Type      string    `json:"type"`
	Code      int       `json:"code"`
	Subcode   int       `json:"error_subcode,omitempty"`
	ErrorData errorData `json:"error_data"`
	FBTraceID string    `json:"fbtrace_id"`
}

type errorData struct {
	MessagingProduct string `json:"messaging_product"`
	Details          string `json:"details"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	// Meta answers nearly every Graph error with type OAuthException,
	// whatever its cause; clients that key on it would be wrong there too.
	writeMeta(w, e.status, errorBody{Error: errorFields{
		Message:   e.message,
		Type:      "OAuthException",
		Code:      e.code,
		Subcode:   e.subcode,
		ErrorData: errorData{MessagingProduct: "whatsapp", Details: e.details},
		FBTraceID: randomID(8),
	}})
}

// writeMeta writes an answer of Meta's API as Meta encodes it (metaJSON).
func writeMeta(w http.ResponseWriter, status int, v any) {
	body, err := metaJSON(v)
	if err != nil {
		// The answers are plain structs of strings and numbers; an error
		// here is the sandbox's own bug.
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The client may be gone; there is nobody left to tell.
	_, _ = w.Write(body)
}

// writeJSON writes an answer of the sandbox's own /_sandbox paths, plain
// for people reading it with curl.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	// The client may be gone; there is nobody left to tell.
	_ = enc.Encode(v)
}

// randomID is n random bytes in unpadded base64url, the alphabet of wamids
// and fbtrace ids.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Sandbox) handleUnknownPath(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{status: http.StatusBadRequest, code: 2500,
		message: "Unknown path components: " + r.URL.Path,
		details: "the sandbox serves POST /{version}/{phone-number-id}/messages and GET /{version}/{waba-id}/message_templates"})
}

package domain_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

func TestCheckLenCountsCharacters(t *testing.T) {
	var errs domain.FieldErrors
	// 256 two-byte characters are 512 bytes and still fit.
	if !domain.CheckLen(&errs, "firstName", strings.Repeat("é", domain.MaxNameLength), domain.MaxNameLength) {
		t.Errorf("%d characters refused: %v", domain.MaxNameLength, errs.Err())
	}
	if err := errs.Err(); err != nil {
		t.Fatalf("errors after a value that fits: %v", err)
	}
	if domain.CheckLen(&errs, "firstName", strings.Repeat("a", 600_000), domain.MaxNameLength) {
		t.Fatal("600,000 characters fit in 256")
	}
	de := domainError(t, errs.Err())
	if de.Kind != domain.KindInvalid || len(de.Fields) != 1 || de.Fields[0] != "firstName" {
		t.Errorf("error %+v, want KindInvalid naming firstName", de)
	}
	if want := "firstName: at most 256 characters, got 600000"; !strings.Contains(de.Message, want) {
		t.Errorf("message %q does not say %q", de.Message, want)
	}
}

func TestLenProblemAtTheBound(t *testing.T) {
	for _, tt := range []struct {
		value string
		max   int
		ok    bool
	}{
		{"", 0, true},
		{"abc", 3, true},
		{"abcd", 3, false},
		{"😀😀😀", 3, true}, // 12 bytes, 3 characters
		{"😀😀😀😀", 3, false},
		{"\xff\xfe\xfd", 3, true}, // each invalid byte counts as one character
	} {
		if got := domain.LenProblem(tt.value, tt.max) == ""; got != tt.ok {
			t.Errorf("LenProblem(%q, %d) fits = %t, want %t", tt.value, tt.max, got, tt.ok)
		}
	}
}

func TestCheckCount(t *testing.T) {
	var errs domain.FieldErrors
	if !domain.CheckCount(&errs, "params", domain.MaxSendParams, domain.MaxSendParams) || errs.Err() != nil {
		t.Fatalf("%d entries refused", domain.MaxSendParams)
	}
	if domain.CheckCount(&errs, "params", domain.MaxSendParams+1, domain.MaxSendParams) {
		t.Fatal("one entry too many fits")
	}
	if msg := errs.Err().Error(); !strings.Contains(msg, "params: at most 128 entries, got 129") {
		t.Errorf("message %q", msg)
	}
}

func TestCheckKeyNamesAHugeKeyShortly(t *testing.T) {
	var errs domain.FieldErrors
	key := strings.Repeat("k", 500_000)
	if domain.CheckKey(&errs, "params", key, domain.MaxParamNameLength) {
		t.Fatal("a 500,000-character key fits")
	}
	de := domainError(t, errs.Err())
	if len(de.Message) > 300 || len(de.Fields[0]) > 100 {
		t.Errorf("the error echoes the key: %d-byte message, %d-byte field", len(de.Message), len(de.Fields[0]))
	}
	if !strings.HasPrefix(de.Fields[0], "params.kkk") || !strings.Contains(de.Message, "a name of at most 100 characters, got 500000") {
		t.Errorf("error %+v", de)
	}
}

func TestFieldName(t *testing.T) {
	for _, tt := range []struct{ parent, key, want string }{
		{"params", "first_name", "params.first_name"},
		{"", "name", "name"},
		{"params", "", `params.""`},
		{"params", "a b", `params."a b"`},
		{"params", "x\x00", `params."x\x00"`},
		// Cut inside a two-byte character: the half is dropped, not kept
		// as an invalid byte.
		{"p", strings.Repeat("a", 63) + "é", "p." + strings.Repeat("a", 63) + "…"},
	} {
		if got := domain.FieldName(tt.parent, tt.key); got != tt.want {
			t.Errorf("FieldName(%q, %q) = %q, want %q", tt.parent, tt.key, got, tt.want)
		}
	}
}

func TestParamMax(t *testing.T) {
	for key, want := range map[string]int{
		"1": domain.MaxParamText, "first_name": domain.MaxParamText, "button_01": domain.MaxParamText, "button_": domain.MaxParamText,
		"header": domain.MaxHeaderValue, "button_0": domain.MaxButtonValue, "button_9": domain.MaxButtonValue,
	} {
		if got := domain.ParamMax(key); got != want {
			t.Errorf("ParamMax(%q) = %d, want %d", key, got, want)
		}
	}
	var errs domain.FieldErrors
	if domain.CheckParam(&errs, "params.1", "1", strings.Repeat("a", domain.MaxParamText+1)) {
		t.Error("a body value over its bound fits")
	}
	if !domain.CheckParam(&errs, "params.header", "header", "https://x.example/"+strings.Repeat("a", 1500)) {
		t.Error("a 1,518-character header URL refused")
	}
}

func TestCheckIdempotencyKey(t *testing.T) {
	if err := domain.CheckIdempotencyKey(strings.Repeat("k", domain.MaxIdempotencyKey)); err != nil {
		t.Errorf("a %d-character key refused: %v", domain.MaxIdempotencyKey, err)
	}
	de := domainError(t, domain.CheckIdempotencyKey(strings.Repeat("k", domain.MaxIdempotencyKey+1)))
	if de.Kind != domain.KindInvalid || de.Fields[0] != "Idempotency-Key" || !strings.Contains(de.Message, "at most 255 characters") {
		t.Errorf("error %+v", de)
	}
}

func TestTextProblem(t *testing.T) {
	for value, ok := range map[string]bool{
		"Recife": true, "linha 1\nlinha 2\r\n\tfim": true, "😀 ção": true, "": true,
		"a\x00b": false, "\x1b[31m": false, "a\u2028b": false, "a\u2029b": false, "\x7f": false, "\u0085": false,
		"\xff": false,
	} {
		if got := domain.TextProblem(value) == ""; got != ok {
			t.Errorf("TextProblem(%q) fits = %t, want %t", value, got, ok)
		}
	}
}

// firestoreMax is Firestore's bound on a document, less room for the
// document's name and for the fields JSON writes shorter than Firestore
// stores them (numbers, booleans).
const firestoreMax = 1<<20 - 8<<10

// jsonSize is an upper bound of what v takes in Firestore: JSON quotes
// every string and names every field, and without HTML escaping a string
// of four-byte characters takes its own bytes.
func jsonSize(t *testing.T, v any) int {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Len()
}

// wide is n characters of four bytes each, the most a bound of n
// characters lets into storage.
func wide(n int) string { return strings.Repeat("😀", n) }

// TestLargestMessageFitsAFirestoreDocument builds the largest message a
// send can make within the bounds: every value at its bound in four-byte
// characters, a header and ten buttons, the rest body placeholders.
func TestLargestMessageFitsAFirestoreDocument(t *testing.T) {
	const buttons = 10
	body := make([]string, 0, domain.MaxSendParams)
	params := map[string]string{domain.ParamHeader: "https://x.example/" + wide(domain.MaxHeaderValue-len("https://x.example/"))}
	for i := 1; len(params) < domain.MaxSendParams-buttons; i++ {
		k := strconv.Itoa(i)
		body = append(body, "{{"+k+"}}")
		params[k] = wide(domain.MaxParamText)
	}
	tpl := domain.Template{ID: wide(domain.MaxTemplateRef), Name: wide(domain.MaxTemplateRef), Language: "pt_BR", Status: domain.TemplateApproved, Components: []domain.TemplateComponent{
		{Type: "HEADER", Format: "DOCUMENT"},
		{Type: "BODY", Text: strings.Join(body, " ")},
		{Type: "BUTTONS"},
	}}
	for i := range buttons {
		tpl.Components[2].Buttons = append(tpl.Components[2].Buttons, domain.TemplateButton{Type: "URL", Text: "b", URL: "https://x.example/{{1}}"})
		params[domain.ButtonParam(i)] = wide(domain.MaxButtonValue)
	}
	rendered, err := domain.Render(tpl, params)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m := domain.NewMessage("m", "t", wide(domain.MaxChannelRef), "5511987654321", tpl.ID, rendered, now)
	m.ClientRef = wide(domain.MaxLabel)
	if n := jsonSize(t, m); n > firestoreMax {
		t.Errorf("largest message takes %d bytes, over %d", n, firestoreMax)
	}
}

// TestLargestContactFitsAFirestoreDocument builds the largest contact the
// bounds allow, and the largest Wati answer that shows it (stored with
// an Idempotency-Key): its names and every attribute at their bounds.
func TestLargestContactFitsAFirestoreDocument(t *testing.T) {
	c := domain.Contact{Phone: "5511987654321", FirstName: wide(domain.MaxNameLength), LastName: wide(domain.MaxNameLength),
		Name: wide(domain.MaxNameLength), ProfileName: wide(domain.MaxNameLength), CustomParams: map[string]string{}}
	for i := range domain.MaxParams {
		name := strconv.Itoa(i) + wide(domain.MaxParamNameLength-len(strconv.Itoa(i)))
		c.CustomParams[name] = wide(domain.MaxParamValue)
	}
	if n := jsonSize(t, c); n > firestoreMax {
		t.Errorf("largest contact takes %d bytes, over %d", n, firestoreMax)
	}
	// The answer shows the contact once more beside a few short fields.
	answer := map[string]any{"templateName": wide(domain.MaxTemplateRef), "contact": c, "fullName": c.Name}
	if n := jsonSize(t, answer); n > firestoreMax {
		t.Errorf("an answer showing the largest contact takes %d bytes, over %d", n, firestoreMax)
	}
}

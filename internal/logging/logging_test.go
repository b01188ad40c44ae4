package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/domain"
)

// lines decodes every JSON line of buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func TestCloudLoggingShape(t *testing.T) {
	var buf bytes.Buffer
	h := Middleware(New(&buf, "info"), "proj", 1)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Warn("hello", "k", 1)
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), r)
	ls := lines(t, &buf)
	if len(ls) != 2 {
		t.Fatalf("want the handler's line and the access line, got %v", ls)
	}
	line := ls[0]
	if line["severity"] != "WARNING" || line["message"] != "hello" {
		t.Errorf("line = %v", line)
	}
	for _, l := range ls {
		if l[TraceKey] != "projects/proj/traces/4bf92f3577b34da6a3ce929d0e0e4736" ||
			l[SpanKey] != "00f067aa0ba902b7" || l[TraceSampledKey] != true {
			t.Errorf("trace fields of %v", l)
		}
	}
}

func TestTraceFromCloudHeader(t *testing.T) {
	h := http.Header{}
	h.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	if got := TraceID(h); got != "105445aa7843bc8bf206b12000100000" {
		t.Errorf("TraceID = %q", got)
	}
	// Its span id is decimal; Cloud Logging wants 16 hex digits.
	if tr := TraceOf(h); tr.SpanID != "0000000000000001" || !tr.Sampled {
		t.Errorf("TraceOf = %+v", tr)
	}
	h.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/0;o=0")
	if tr := TraceOf(h); tr.SpanID != "" || tr.Sampled {
		t.Errorf("unsampled, no span: %+v", tr)
	}
	h.Set("X-Cloud-Trace-Context", "not a trace/1")
	if tr := TraceOf(h); tr.ID != "" {
		t.Errorf("garbage header gave %+v", tr)
	}
}

func TestParseTraceparent(t *testing.T) {
	for tp, want := range map[string]Trace{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00": {ID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"},
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01": {ID: "4bf92f3577b34da6a3ce929d0e0e4736", Sampled: true},
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01": {},
		"00-short-00f067aa0ba902b7-01":                            {},
		"":                                                        {},
	} {
		got, _ := ParseTraceparent(tp)
		if got != want {
			t.Errorf("ParseTraceparent(%q) = %+v, want %+v", tp, got, want)
		}
	}
}

// access serves one request through Middleware and returns its access line.
func accessLine(t *testing.T, r *http.Request, h http.HandlerFunc) (map[string]any, *httptest.ResponseRecorder) {
	t.Helper()
	var buf bytes.Buffer
	w := httptest.NewRecorder()
	Middleware(New(&buf, "info"), "proj", 1)(h).ServeHTTP(w, r)
	ls := lines(t, &buf)
	last := ls[len(ls)-1]
	if last["message"] != AccessMessage {
		t.Fatalf("last line is not the access line: %v", last)
	}
	return last, w
}

func TestAccessLine(t *testing.T) {
	r := httptest.NewRequest("POST", "/demo/api/v1/sendSessionMessage/5511987654321?whatsappNumber=5511987654321&hub.verify_token=s3cret", strings.NewReader(`{"a":1}`))
	r.Header.Set("User-Agent", "curl/8")
	// The client wrote the first hop; Google's front end appended the last.
	r.Header.Set("X-Forwarded-For", "10.0.0.1, 203.0.113.7")
	line, _ := accessLine(t, r, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("hello"))
	})
	hr, _ := line["httpRequest"].(map[string]any)
	if line["severity"] != "INFO" || hr == nil {
		t.Fatalf("line = %v", line)
	}
	want := map[string]any{
		"requestMethod": "POST", "requestUrl": "/demo/api/v1/sendSessionMessage/*********4321",
		"status": float64(202), "responseSize": "5", "requestSize": "7", "remoteIp": "203.0.113.7",
		"userAgent": "curl/8", "protocol": "HTTP/1.1",
	}
	for k, v := range want {
		if hr[k] != v {
			t.Errorf("httpRequest.%s = %v, want %v", k, hr[k], v)
		}
	}
	lat, _ := hr["latency"].(string)
	var secs float64
	if _, err := fmt.Sscanf(lat, "%fs", &secs); err != nil || !strings.HasSuffix(lat, "s") || secs < 0.002 {
		t.Errorf("latency = %q", lat)
	}
	if raw, _ := json.Marshal(line); strings.Contains(string(raw), "s3cret") || strings.Contains(string(raw), "987654321") {
		t.Errorf("query or number in the access line: %s", raw)
	}
}

func TestAccessSeverityByStatus(t *testing.T) {
	for code, sev := range map[int]string{200: "INFO", 302: "INFO", 401: "WARNING", 404: "WARNING", 500: "ERROR", 503: "ERROR"} {
		line, _ := accessLine(t, httptest.NewRequest("GET", "/", nil), func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
		})
		if line["severity"] != sev {
			t.Errorf("%d logged at %v, want %s", code, line["severity"], sev)
		}
	}
	// A handler that writes nothing answers 200.
	line, _ := accessLine(t, httptest.NewRequest("GET", "/", nil), func(http.ResponseWriter, *http.Request) {})
	if hr := line["httpRequest"].(map[string]any); hr["status"] != float64(200) || hr["responseSize"] != "0" {
		t.Errorf("empty answer: %v", hr)
	}
}

func TestAccessKeepsFlusher(t *testing.T) {
	flushed := false
	line, w := accessLine(t, httptest.NewRequest("GET", "/", nil), func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("part"))
		f, ok := w.(http.Flusher)
		if !ok {
			t.Fatal("the wrapped writer is no http.Flusher")
		}
		f.Flush()
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController: %v", err)
		}
		flushed = true
	})
	if !flushed || !w.Flushed || line["httpRequest"].(map[string]any)["responseSize"] != "4" {
		t.Errorf("flushed %v, recorder flushed %v, line %v", flushed, w.Flushed, line)
	}
}

func TestAccessLineOnPanic(t *testing.T) {
	var buf bytes.Buffer
	h := Middleware(New(&buf, "info"), "", 1)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	ls := lines(t, &buf)
	if len(ls) != 1 || ls[0]["severity"] != "ERROR" || ls[0]["httpRequest"].(map[string]any)["status"] != float64(500) {
		t.Errorf("lines = %v", ls)
	}
}

func TestFreeTextMasked(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "info")
	err := errors.New(`get tenants/demo/contacts/5511987654321: rpc error`)
	l.Error("failed for 5511987654321", "error", err.Error(), "reason", "to 11987654321", "path", "/x/5511987654321",
		"phoneNumberId", "100000000000001", "code", 131026)
	l.Error("typed", "error", err)
	out := buf.String()
	if strings.Contains(out, "987654321") {
		t.Errorf("number leaked: %s", out)
	}
	if !strings.Contains(out, `"phoneNumberId":"100000000000001"`) || !strings.Contains(out, `"code":131026`) {
		t.Errorf("identifiers and codes must stay: %s", out)
	}
	if !strings.Contains(out, "*********4321") {
		t.Errorf("masked form missing: %s", out)
	}
}

func TestMaskError(t *testing.T) {
	base := errors.New("message to 5511987654321 failed")
	err := MaskError(fmt.Errorf("wrapped: %w", base))
	if err.Error() != "wrapped: message to *********4321 failed" || !errors.Is(err, base) {
		t.Errorf("MaskError = %q", err)
	}
	if MaskError(nil) != nil {
		t.Error("MaskError(nil) is not nil")
	}
	if MaskDigits("meta error 131026 at 12:00") != "meta error 131026 at 12:00" {
		t.Error("short digit runs must stay")
	}
}

func TestTransitionLine(t *testing.T) {
	var buf bytes.Buffer
	ctx := WithLogger(context.Background(), New(&buf, "info"))
	m := domain.Message{
		ID: "m1", Tenant: "t1", Channel: "main", PhoneNumber: "5511987650001", Status: domain.StatusFailed,
		Attempts: 1, Error: &domain.MessageError{Code: 131026, Title: "Message undeliverable to 5511987650001"},
		History: []domain.HistoryEntry{{Status: domain.StatusAccepted}, {Status: domain.StatusDispatching}, {Status: domain.StatusFailed}},
	}
	Transition(ctx, Moved(SourceDispatch, m, PreviousStatus(m)))
	ls := lines(t, &buf)
	if len(ls) != 1 {
		t.Fatalf("lines = %v", ls)
	}
	want := map[string]any{
		"message": "transition", "severity": "WARNING", "source": "dispatch", "tenant": "t1", "messageId": "m1",
		"channel": "main", "phone": "*********0001", "from": "dispatching", "to": "failed", "attempt": float64(1),
		"metaCode": float64(131026), "reason": "Message undeliverable to *********0001",
	}
	for k, v := range want {
		if ls[0][k] != v {
			t.Errorf("%s = %v, want %v", k, ls[0][k], v)
		}
	}

	buf.Reset()
	m = domain.NewMessage("m2", "t1", "main", "5511987650002", "welcome", domain.TemplateMessage{}, time.Now())
	Transition(ctx, Moved(SourceAccept, m, ""))
	ls = lines(t, &buf)
	if ls[0]["severity"] != "INFO" || ls[0]["to"] != "accepted" || ls[0]["from"] != nil || ls[0]["attempt"] != nil || ls[0]["metaCode"] != nil {
		t.Errorf("accept line = %v", ls[0])
	}
}

func TestBulkTransitions(t *testing.T) {
	var buf bytes.Buffer
	ctx := WithLogger(context.Background(), New(&buf, "info"))
	m := domain.NewMessage("m3", "t1", "main", "5511987650003", "welcome", domain.TemplateMessage{}, time.Now())
	f := Moved(SourceFanout, m, "")
	f.Bulk, f.Batch = true, "b1"
	Transition(ctx, f)
	BulkTransition(ctx, BulkTransitionFields{Source: SourceFanout, Tenant: "t1", Channel: "main", Batch: "b1", Chunk: 2, To: domain.StatusAccepted, Count: 0})
	if buf.Len() != 0 {
		t.Fatalf("at info, a bulk message and an empty summary log nothing: %s", buf.String())
	}
	BulkTransition(ctx, BulkTransitionFields{Source: SourceFanout, Tenant: "t1", Channel: "main", Batch: "b1", Chunk: 2, To: domain.StatusAccepted, Count: 250})
	ls := lines(t, &buf)
	if len(ls) != 1 || ls[0]["message"] != "transitions" || ls[0]["count"] != float64(250) || ls[0]["chunk"] != float64(2) || ls[0]["to"] != "accepted" {
		t.Errorf("summary = %v", ls)
	}

	buf.Reset()
	ctx = WithLogger(context.Background(), New(&buf, "debug"))
	Transition(ctx, f)
	ls = lines(t, &buf)
	if len(ls) != 1 || ls[0]["severity"] != "DEBUG" || ls[0]["batch"] != "b1" || ls[0]["phone"] != "*********0003" {
		t.Errorf("bulk line at debug = %v", ls)
	}
}

func TestEventContextTrace(t *testing.T) {
	var buf bytes.Buffer
	e := event.New()
	e.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	FromContext(EventContext(context.Background(), New(&buf, "info"), "proj", e)).Info("x")
	e2 := event.New()
	FromContext(EventContext(context.Background(), New(&buf, "info"), "proj", e2)).Info("y")
	ls := lines(t, &buf)
	if ls[0][TraceKey] != "projects/proj/traces/4bf92f3577b34da6a3ce929d0e0e4736" || ls[0][SpanKey] != "00f067aa0ba902b7" {
		t.Errorf("event with traceparent: %v", ls[0])
	}
	if _, ok := ls[1][TraceKey]; ok {
		t.Errorf("event without one: %v", ls[1])
	}
}

func TestFingerprint(t *testing.T) {
	a, b := Fingerprint("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTY3RjMwRjcA"), Fingerprint("wamid.other")
	if len(a) != 16 || a == b || Fingerprint("") != "" || strings.Contains(a, "MTY1") {
		t.Errorf("Fingerprint = %q, %q", a, b)
	}
}

func TestClaimCarriesNoOldError(t *testing.T) {
	m := domain.NewMessage("m4", "t1", "main", "5511987650008", "welcome", domain.TemplateMessage{}, time.Now())
	m.Status, m.Attempts = domain.StatusDispatching, 2
	m.Error = &domain.MessageError{Code: 131000, Title: "Something went wrong"}
	if f := Moved(SourceDispatch, m, domain.StatusAccepted); f.MetaCode != 0 || f.Reason != "" {
		t.Errorf("claim line carries the previous attempt's error: %+v", f)
	}
	m.Status = domain.StatusAccepted
	if f := Moved(SourceDispatch, m, domain.StatusDispatching); f.MetaCode != 131000 {
		t.Errorf("retry line without its error: %+v", f)
	}
}

func TestScrub(t *testing.T) {
	w := "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTY3RjMwRjcA"
	got := Scrub("get wamids/" + w + ": rpc error for 5511987654321")
	if want := "get wamids/wamid#" + Fingerprint(w) + ": rpc error for *********4321"; got != want {
		t.Errorf("Scrub = %q, want %q", got, want)
	}
	var buf bytes.Buffer
	New(&buf, "info").Error("x", "error", errors.New("find "+w))
	if strings.Contains(buf.String(), "MTY1") || !strings.Contains(buf.String(), Fingerprint(w)) {
		t.Errorf("wamid in a line: %s", buf.String())
	}
}

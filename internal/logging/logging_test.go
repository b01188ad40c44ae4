package logging

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCloudLoggingShape(t *testing.T) {
	var buf bytes.Buffer
	h := Middleware(New(&buf, "info"), "proj")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Warn("hello", "k", 1)
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), r)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	if line["severity"] != "WARNING" || line["message"] != "hello" {
		t.Errorf("line = %v", line)
	}
	if line[TraceKey] != "projects/proj/traces/4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace = %v", line[TraceKey])
	}
}

func TestTraceIDFromCloudHeader(t *testing.T) {
	h := http.Header{}
	h.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	if got := TraceID(h); got != "105445aa7843bc8bf206b12000100000" {
		t.Errorf("TraceID = %q", got)
	}
}

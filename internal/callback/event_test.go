package callback_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
)

func message(id string, statuses ...domain.Status) domain.Message {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m := domain.NewMessage(id, "acme", "main", "5511987650000", "welcome", domain.TemplateMessage{}, at)
	for i, s := range statuses {
		if err := m.Move(s, at.Add(time.Duration(i+1)*time.Second)); err != nil {
			panic(err)
		}
	}
	return m
}

func TestEventOfLatestStatus(t *testing.T) {
	m := message("m1", domain.StatusDispatching, domain.StatusSent)
	m.ConversationID, m.ClientRef = "conv-9", "order-42"
	m.History[2].At = m.History[2].At.In(time.FixedZone("BRT", -3*3600))
	got := callback.EventOf(m)
	want := callback.Event{
		ID: "m1.3", Type: "message.status", MessageID: "m1", Status: domain.StatusSent,
		Timestamp:      time.Date(2026, 3, 1, 12, 0, 2, 0, time.UTC),
		ConversationID: "conv-9", ClientRef: "order-42",
	}
	if got != want || got.Timestamp.Location() != time.UTC {
		t.Fatalf("EventOf = %+v, want %+v", got, want)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"id":"m1.3","type":"message.status","messageId":"m1","status":"sent","timestamp":"2026-03-01T12:00:02Z","conversationId":"conv-9","clientRef":"order-42"}`
	if string(b) != wantJSON {
		t.Fatalf("JSON = %s\nwant   %s", b, wantJSON)
	}
}

func TestEventIDsDifferPerChangeAndRepeatPerMessageState(t *testing.T) {
	m := message("m1", domain.StatusDispatching, domain.StatusPending)
	first := callback.EventOf(m)
	if again := callback.EventOf(m); again.ID != first.ID {
		t.Fatalf("same state gave ids %s and %s", first.ID, again.ID)
	}
	if err := m.Move(domain.StatusDelivered, time.Now()); err != nil {
		t.Fatal(err)
	}
	if next := callback.EventOf(m); next.ID == first.ID || next.Status != domain.StatusDelivered {
		t.Fatalf("after delivered: %+v, first id %s", next, first.ID)
	}
}

func TestEventErrorOnlyForFailure(t *testing.T) {
	m := message("m1", domain.StatusDispatching, domain.StatusFailed)
	m.Error = &domain.MessageError{Code: 131026, Title: "Message undeliverable"}
	b, _ := json.Marshal(callback.EventOf(m))
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if e, ok := got["error"].(map[string]any); !ok || e["code"] != float64(131026) || e["title"] != "Message undeliverable" {
		t.Fatalf("failed event = %s", b)
	}
	if _, ok := got["conversationId"]; ok {
		t.Fatalf("empty conversationId not omitted: %s", b)
	}

	// A retry puts the message back to accepted with the retryable error;
	// a later success must not carry it.
	r := message("m2", domain.StatusDispatching, domain.StatusAccepted, domain.StatusDispatching, domain.StatusPending)
	r.Error = &domain.MessageError{Code: 130429, Title: "Rate limit hit"}
	if e := callback.EventOf(r); e.Error != nil {
		t.Fatalf("pending event carries %+v", e.Error)
	}
}

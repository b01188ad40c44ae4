package provider_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/provider"
)

// TestSendText: a text request goes out in Meta's text shape; the sandbox
// refuses it with a permanent 131047 before the recipient has written and
// accepts it after.
func TestSendText(t *testing.T) {
	f := newFixture(t, nil)
	hooks := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(hooks.Close)
	f.sb.SetWebhook(hooks.URL, "")
	t.Cleanup(f.sb.Close)

	const to = "5511988886666"
	r := provider.SendRequest{PhoneNumberID: demo.PhoneNumberID, AccessToken: demo.AccessToken, To: to, Text: "olá, Maria", CallbackData: "text-1"}
	_, err := f.client.Send(context.Background(), r)
	if pe := metaErr(t, err, to); pe.Code != 131047 || pe.Class != provider.Permanent {
		t.Fatalf("text outside the window: %v, want a permanent 131047", err)
	}
	if _, err := f.sb.Reply(context.Background(), demo.PhoneNumberID, to, "Maria", "oi"); err != nil {
		t.Fatal(err)
	}
	res, err := f.client.Send(context.Background(), r)
	if err != nil || res.WAMID == "" {
		t.Fatalf("text inside the window: %+v, %v", res, err)
	}
	reqs := f.sb.Requests()
	last := reqs[len(reqs)-1]
	if last.Type != "text" || last.Text != "olá, Maria" || last.CallbackData != "text-1" || last.Template.Name != "" || last.WAMID != res.WAMID {
		t.Errorf("sandbox recorded %+v", last)
	}
}

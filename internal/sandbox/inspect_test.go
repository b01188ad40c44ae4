package sandbox_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/templategw/templategw/internal/demo"
)

// TestInspectShowsWhatWasExchanged: /_sandbox/requests shows each call's
// Graph API version and raw body, and /_sandbox/webhooks each post exactly
// as the receiver got it, with its signature.
func TestInspectShowsWhatWasExchanged(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	body := welcomeBody("5511988887777", "i-1")
	post(t, srv, "/v25.0/"+demo.PhoneNumberID+"/messages", demo.AccessToken, body)
	post(t, srv, sendPath(), demo.AccessToken, "not json")
	settle(t, sb)

	var reqs struct {
		Requests []struct {
			Version string `json:"version"`
			Body    string `json:"body"`
			Status  int    `json:"status"`
		} `json:"requests"`
	}
	getJSON(t, srv.URL+"/_sandbox/requests", &reqs)
	if r := reqs.Requests; len(r) != 2 || r[0].Version != "v25.0" || r[0].Body != body || r[0].Status != 200 ||
		r[1].Version != "v24.0" || r[1].Body != "not json" || r[1].Status != 400 {
		t.Errorf("requests %+v, want both calls with their version and body as sent", r)
	}

	var hooks struct {
		Webhooks []struct {
			Status    string `json:"status"`
			Body      string `json:"body"`
			Signature string `json:"signature"`
		} `json:"webhooks"`
	}
	getJSON(t, srv.URL+"/_sandbox/webhooks?callback=i-1", &hooks)
	posts := rc.received()
	if len(hooks.Webhooks) != 3 || len(posts) != 3 {
		t.Fatalf("listed %d webhooks, receiver got %d; want 3 each", len(hooks.Webhooks), len(posts))
	}
	for i, h := range hooks.Webhooks {
		if h.Body != string(posts[i].body) || h.Signature != posts[i].sig {
			t.Errorf("webhook %d listed as %s %s, posted as %s %s", i, h.Body, h.Signature, posts[i].body, posts[i].sig)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
}

package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
)

type page struct {
	Data   []map[string]json.RawMessage `json:"data"`
	Paging struct {
		Cursors struct{ Before, After string } `json:"cursors"`
		Next    string                         `json:"next"`
	} `json:"paging"`
	Error *struct{ Code int } `json:"error"`
}

func getPage(t *testing.T, u, token string) (int, page) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p page
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, p
}

func TestTemplateListPages(t *testing.T) {
	cfg := sandbox.Default()
	for i := range 30 {
		cfg.Templates[demo.WABAID] = append(cfg.Templates[demo.WABAID], domain.Template{
			Name: fmt.Sprintf("extra_%02d", i), Language: "en_US", Status: "PENDING", Category: "MARKETING",
		})
	}
	_, srv := serve(t, cfg)
	u := srv.URL + "/v24.0/" + demo.WABAID + "/message_templates?fields=name,status"
	var names []string
	pages := 0
	for u != "" {
		status, p := getPage(t, u, demo.AccessToken)
		if status != 200 {
			t.Fatalf("GET %s: %d", u, status)
		}
		pages++
		for _, d := range p.Data {
			var name string
			_ = json.Unmarshal(d["name"], &name)
			names = append(names, name)
			var id string
			if err := json.Unmarshal(d["id"], &id); err != nil || id == "" || strings.Trim(id, "0123456789") != "" {
				t.Errorf("item %s has id %s, want a numeric string like Meta's", name, d["id"])
			}
			if _, ok := d["components"]; ok {
				t.Errorf("item %s has components, which fields did not ask for", name)
			}
		}
		if p.Paging.Next != "" && !strings.HasPrefix(p.Paging.Next, srv.URL+"/") {
			t.Errorf("next %q is not an absolute URL on the server", p.Paging.Next)
		}
		if p.Paging.Next != "" {
			if nu, _ := url.Parse(p.Paging.Next); nu.Query().Get("fields") != "name,status" {
				t.Errorf("next %q lost the fields", p.Paging.Next)
			}
		}
		u = p.Paging.Next
	}
	if want := len(demo.Templates()) + 30; len(names) != want || pages != 2 {
		t.Errorf("%d templates over %d pages, want %d over 2 (25 a page)", len(names), pages, want)
	}
	if names[0] != "welcome" || names[len(names)-1] != "extra_29" {
		t.Errorf("order %v, want the configured order", names)
	}
}

func TestTemplateListRejects(t *testing.T) {
	_, srv := serve(t, sandbox.Default())
	base := srv.URL + "/v24.0/" + demo.WABAID + "/message_templates"
	tests := []struct {
		name, url, token string
		status, code     int
	}{
		{"wrong token", base, "nope", 401, 190},
		{"unknown WABA", srv.URL + "/v24.0/42/message_templates", demo.AccessToken, 400, 100},
		{"bad cursor", base + "?after=zzz", demo.AccessToken, 400, 100},
		{"bad limit", base + "?limit=-1", demo.AccessToken, 400, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, p := getPage(t, tt.url, tt.token)
			if status != tt.status || p.Error == nil || p.Error.Code != tt.code {
				t.Errorf("HTTP %d %+v, want %d code %d", status, p.Error, tt.status, tt.code)
			}
		})
	}
}

func TestInspectEndpoints(t *testing.T) {
	sb, srv := serve(t, sandbox.Default())
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", "a"))
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988886666", "b"))
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988886666", "c"))

	list := func(query string) []sandbox.Request {
		resp, err := http.Get(srv.URL + "/_sandbox/requests" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Requests []sandbox.Request }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.Requests
	}
	if got := list(""); len(got) != 3 {
		t.Errorf("all: %d requests, want 3", len(got))
	}
	if got := list("?to=5511988886666"); len(got) != 2 {
		t.Errorf("by to: %d requests, want 2", len(got))
	}
	if got := list("?callback=c"); len(got) != 1 || got[0].CallbackData != "c" || got[0].WAMID == "" {
		t.Errorf("by callback: %+v, want the one with callback c", got)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/_sandbox/requests", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(sb.Requests()) != 0 || sb.CountByCallback("a") != 0 {
		t.Errorf("after DELETE: %d requests, want none", len(sb.Requests()))
	}
}

func TestUnknownPathIsMetaShaped(t *testing.T) {
	_, srv := serve(t, sandbox.Default())
	a := get(t, srv.URL+"/v24.0/"+demo.PhoneNumberID+"/messages", demo.AccessToken)
	if a.Status != 400 || a.code() == 0 {
		t.Errorf("GET on the send path: %+v, want a Meta error", a)
	}
}

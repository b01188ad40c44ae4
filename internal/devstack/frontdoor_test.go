package devstack_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/app"
	"github.com/templategw/templategw/internal/devstack"
)

// The front door routes each HTTP function of the table to its server
// without its prefix, and a wrong path is told the paths that exist.
func TestFrontDoorRoutesTheTable(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.URL.Path))
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	routes := map[string]*url.URL{}
	for _, f := range app.Functions {
		if f.Kind == app.HTTP {
			routes[f.Name] = u
		}
	}
	door := httptest.NewServer(devstack.FrontDoor(routes))
	defer door.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(door.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(raw)
	}
	for name := range routes {
		if code, body := get("/" + name + "/x/y"); code != http.StatusOK || body != "/x/y" {
			t.Errorf("/%s/x/y reached %d %q, want its server at /x/y", name, code, body)
		}
	}
	code, body := get("/nope/")
	var answer struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil || code != http.StatusNotFound || answer.Error.Code != "not_found" {
		t.Fatalf("/nope/ answered %d %s (%v)", code, body, err)
	}
	for _, f := range app.Functions {
		listed := strings.Contains(answer.Error.Message, "/"+f.Name+"/")
		if listed != (f.Kind == app.HTTP) {
			t.Errorf("the 404 lists /%s/: %v, want %v: %s", f.Name, listed, f.Kind == app.HTTP, answer.Error.Message)
		}
	}
}

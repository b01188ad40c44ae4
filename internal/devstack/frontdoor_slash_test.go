package devstack_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/templategw/templategw/internal/devstack"
)

// A browser at /console is sent to /console/, where the console's
// relative links resolve; an API client's request without the slash goes
// through as it is.
func TestFrontDoorGivesBrowsersTheDirectory(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.URL.Path))
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	door := httptest.NewServer(devstack.FrontDoor(map[string]*url.URL{"console": u, "templates": u}))
	defer door.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	req, _ := http.NewRequest(http.MethodGet, door.URL+"/console", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/console/" {
		t.Errorf("a browser at /console: %s %q, want 301 to /console/", resp.Status, resp.Header.Get("Location"))
	}

	resp, err = client.Get(door.URL + "/templates")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "/" {
		t.Errorf("an API client at /templates: %s %q, want its server at /", resp.Status, body)
	}
}

package devstack

import (
	"encoding/json"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/templategw/templategw/internal/app"
)

// FrontDoor routes /<function>/... to that function's server at /...,
// as https://REGION-PROJECT.cloudfunctions.net/<function>/... does.
func FrontDoor(routes map[string]*url.URL) http.Handler {
	proxies := make(map[string]*httputil.ReverseProxy, len(routes))
	for name, u := range routes {
		proxies[name] = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		}}
	}
	notFound, _ := json.Marshal(map[string]any{"error": map[string]string{
		"code": "not_found", "message": "no function at this path; try " + strings.Join(paths(routes), ", "),
	}})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, rest, slash := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		p, ok := proxies[name]
		if !ok {
			http.Error(w, string(notFound), http.StatusNotFound)
			return
		}
		if !slash && r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") {
			// A browser at /console gets /console/: the console's links
			// are relative to its directory. API clients never ask for
			// HTML, so /templates stays as it is for them.
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + rest
		r2.URL.RawPath = ""
		p.ServeHTTP(w, r2)
	})
}

// paths are the front door's paths, in the order the functions are
// declared.
func paths(routes map[string]*url.URL) []string {
	var out []string
	for _, f := range app.Functions {
		if _, ok := routes[f.Name]; ok {
			out = append(out, "/"+f.Name+"/")
		}
	}
	return out
}

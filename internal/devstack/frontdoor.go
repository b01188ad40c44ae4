package devstack

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		p, ok := proxies[name]
		if !ok {
			http.Error(w, `{"error":{"code":"not_found","message":"no function at this path; try /templates/, /messages/, /cloudchat/, /emkt/, /wati/ or /whatsapp/"}}`, http.StatusNotFound)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + rest
		r2.URL.RawPath = ""
		p.ServeHTTP(w, r2)
	})
}

package openapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
)

// TestBatchesAPI follows a Wati broadcast through the batches API, every
// request and answer held to the description.
func TestBatchesAPI(t *testing.T) {
	g := newGateway(t)
	g.seedOtherTenant(t)
	token := bearer(apptest.Token)
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	w := g.do(t, exchange{name: "scheduled broadcast", method: http.MethodPost, path: watiPath("sendTemplateMessages"), header: token, status: http.StatusOK,
		body: `{"template_name":"welcome","broadcast_name":"later","scheduledDateTime":"` + at + `",
			"receivers":[{"whatsappNumber":"5511987654341","customParams":[{"name":"1","value":"Ana"},{"name":"2","value":"Loja"}]}]}`})
	id := jsonString(t, w, "batchId")
	x := func(name, method, path string, status int, refused bool, header []string) exchange {
		return exchange{name: name, method: method, path: path, header: header, status: status, refused: refused}
	}

	w = g.do(t, x("progress", http.MethodGet, "/batches/"+id, http.StatusOK, false, token))
	if jsonAt(t, w, "state") != "scheduled" || jsonAt(t, w, "counts.accepted") != float64(1) {
		t.Errorf("progress %s, want scheduled with one accepted", w.Body.String())
	}
	w = g.do(t, x("list", http.MethodGet, "/batches?limit=10", http.StatusOK, false, token))
	if jsonAt(t, w, "batches.0.id") != id {
		t.Errorf("list %s, want %s first", w.Body.String(), id)
	}
	for _, c := range []exchange{
		x("pause", http.MethodPost, "/batches/"+id+"/pause", http.StatusOK, false, token),
		x("resume", http.MethodPost, "/batches/"+id+"/resume", http.StatusOK, false, token),
		x("cancel", http.MethodPost, "/batches/"+id+"/cancel", http.StatusOK, false, token),
		x("resume once cancelled", http.MethodPost, "/batches/"+id+"/resume", http.StatusConflict, false, token),
		x("unknown id", http.MethodGet, "/batches/nope", http.StatusNotFound, false, token),
		x("another tenant's", http.MethodGet, "/batches/"+id, http.StatusNotFound, false, bearer(otherToken)),
		x("another tenant pausing it", http.MethodPost, "/batches/"+id+"/pause", http.StatusNotFound, false, bearer(otherToken)),
		x("no token", http.MethodGet, "/batches/"+id, http.StatusUnauthorized, true, nil),
		x("wrong token", http.MethodPost, "/batches/"+id+"/cancel", http.StatusUnauthorized, false, bearer("nope")),
		x("limit over 100", http.MethodGet, "/batches?limit=101", http.StatusBadRequest, true, token),
		x("a page token it never issued", http.MethodGet, "/batches?pageToken=nope", http.StatusBadRequest, false, token),
	} {
		g.do(t, c)
	}
	w = g.do(t, x("progress once cancelled", http.MethodGet, "/batches/"+id, http.StatusOK, false, token))
	if jsonAt(t, w, "state") != "cancelled" || jsonAt(t, w, "counts.cancelled") != float64(1) {
		t.Errorf("progress %s, want cancelled", w.Body.String())
	}
}

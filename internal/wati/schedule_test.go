package wati_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/wati"
)

// nopFanout drops fan-out events: these tests look at what is stored.
type nopFanout struct{}

func (nopFanout) PublishJSON(context.Context, any, map[string]string) error { return nil }

// TestBroadcastAnswersItsIDAndTakesASchedule: the answer names the
// broadcast as the batches API does, and scheduledDateTime stores it
// scheduled rather than sent.
func TestBroadcastAnswersItsIDAndTakesASchedule(t *testing.T) {
	f := newFixture(t)
	svc := batch.New(accept.New(f.Catalog, f.Store, f.Publisher, accept.Options{}), f.Store, nopFanout{}, batch.Options{})
	h := wati.New(f.Catalog, f.Store, accept.New(f.Catalog, f.Store, f.Publisher, accept.Options{Wait: -1}), svc, wati.Options{}).Handler()
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	body := `{"template_name":"welcome","broadcast_name":"later","scheduledDateTime":"` + at.Format(time.RFC3339) + `","receivers":[
		{"whatsappNumber":"5511987652401","customParams":[{"name":"1","value":"Ana"},{"name":"2","value":"Loja"}]}]}`
	w := serve(t, h, http.MethodPost, path("sendTemplateMessages"), apptest.Token, body)
	a := obj(t, w)
	id, _ := a["batchId"].(string)
	if w.Code != http.StatusOK || a["result"] != true || id == "" {
		t.Fatalf("%d %v, want 200 with a batchId", w.Code, a)
	}
	p, err := svc.Progress(context.Background(), f.Tenant, id)
	if err != nil {
		t.Fatalf("batchId %q names no broadcast: %v", id, err)
	}
	if p.State != domain.BatchScheduled || !p.SendAt.Equal(at) || p.Name != "later" || p.Counts.Accepted != 1 {
		t.Fatalf("broadcast %+v, want scheduled for %v", p, at)
	}

	for name, value := range map[string]string{
		"not a time": `"tomorrow"`, "no offset": `"` + at.Format("2006-01-02T15:04:05") + `"`,
		"too far": `"` + at.AddDate(0, 2, 0).Format(time.RFC3339) + `"`, "a number": `1780236000`,
	} {
		t.Run(name, func(t *testing.T) {
			body := `{"template_name":"welcome","scheduledDateTime":` + value + `,"receivers":[
				{"whatsappNumber":"5511987652402","customParams":[{"name":"1","value":"Ana"},{"name":"2","value":"Loja"}]}]}`
			wantFail(t, serve(t, h, http.MethodPost, path("sendTemplateMessages"), apptest.Token, body), http.StatusBadRequest, "scheduledDateTime")
		})
	}
}

package emkt_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
)

// scheduled is a 50.01 with <agendamento> in its header.
func scheduled(id, at string, contacts ...contact) string {
	return strings.Replace(sendXML(id, "alerta1", contacts...), "</element_name>\n",
		"</element_name>\n  <agendamento>"+at+"</agendamento>\n", 1)
}

func TestAgendamentoSchedulesTheBatch(t *testing.T) {
	g := newGateway(t, 0, batch.Options{})
	ctx := context.Background()
	at := time.Now().Add(2 * time.Hour).In(time.FixedZone("BRT", -3*3600)).Truncate(time.Second)
	code := wantCode(t, g.post(t, strings.NewReader(scheduled("AGENDA1", at.Format(time.RFC3339),
		contact{"11987651301", []string{"Maria"}}, contact{"11987651302", []string{"João"}}))))
	rec, err := g.e.Store.BatchByCode(ctx, g.e.Tenant, code)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != domain.BatchScheduled || !rec.SendAt.Equal(at) || !rec.StartedAt.IsZero() {
		t.Fatalf("batch %+v, want scheduled for %v", rec.BatchLifecycle, at)
	}
	// 50.02 shows the recipients queued.
	a := decode(t, g.post(t, strings.NewReader(statusXML(code))))
	if len(a.Emkt.Items) != 2 || a.Emkt.Items[0].Status != "accepted" {
		t.Fatalf("50.02 of a scheduled batch: %+v", a.Emkt.Items)
	}

	for _, c := range []struct{ name, at string }{
		{"not a time", "amanhã às 9"},
		{"no offset", at.Format("2006-01-02T15:04:05")},
		{"too far", time.Now().AddDate(0, 2, 0).Format(time.RFC3339)},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, g.post(t, strings.NewReader(scheduled("", c.at, contact{"11987651303", []string{"Ana"}}))), http.StatusBadRequest, "agendamento")
		})
	}
}

func TestStatusOfACancelledBatch(t *testing.T) {
	g := newGateway(t, 0, batch.Options{})
	ctx := context.Background()
	code := wantCode(t, g.post(t, strings.NewReader(sendXML("CANCELADO1", "alerta1",
		contact{"11987651311", []string{"Maria"}}, contact{"123", []string{"Ana"}}, contact{"11987651313", []string{"João"}}))))
	if _, err := g.batches.Cancel(ctx, g.e.Tenant, code); err != nil {
		t.Fatal(err)
	}
	a := decode(t, g.post(t, strings.NewReader(statusXML(code))))
	var got []string
	for _, it := range a.Emkt.Items {
		got = append(got, it.Status)
	}
	if want := []string{"cancelled", "failed", "cancelled"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("50.02 after cancel: %v, want %v (the refused contact stays failed)", got, want)
	}
}

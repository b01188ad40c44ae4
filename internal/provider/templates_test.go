package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/sandbox"
)

func TestListTemplatesFollowsPaging(t *testing.T) {
	const n = 230 // three pages of the client's 100
	var ts []domain.Template
	for i := range n {
		ts = append(ts, domain.Template{
			Name: fmt.Sprintf("t%03d", i), Language: "pt_BR", Category: "UTILITY", Status: domain.TemplateApproved,
			Components: []domain.TemplateComponent{{Type: "BODY", Text: "Olá {{1}}"}},
		})
	}
	cfg := sandbox.Default()
	cfg.Templates[demo.WABAID] = ts
	sb := sandbox.New(cfg)
	var pages atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.Add(1)
		sb.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := provider.New(provider.Config{BaseURL: srv.URL, Version: "v24.0", Timeout: 5 * time.Second}, nil)

	got, err := c.ListTemplates(context.Background(), demo.WABAID, demo.AccessToken)
	if err != nil {
		t.Fatalf("ListTemplates: %v", err)
	}
	if len(got) != n {
		t.Fatalf("got %d templates, want %d", len(got), n)
	}
	for i, tpl := range got {
		if want := fmt.Sprintf("t%03d", i); tpl.Name != want || tpl.Body() != "Olá {{1}}" || tpl.ID == "" {
			t.Fatalf("template %d = %+v, want %s with its body and an id", i, tpl, want)
		}
	}
	if p := pages.Load(); p != 3 {
		t.Errorf("fetched %d pages, want 3", p)
	}
}

func TestListTemplatesDemo(t *testing.T) {
	f := newFixture(t, nil)
	got, err := f.client.ListTemplates(context.Background(), demo.WABAID, demo.AccessToken)
	if err != nil {
		t.Fatalf("ListTemplates: %v", err)
	}
	want := demo.Templates()
	if len(got) != len(want) {
		t.Fatalf("got %d templates, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Language != w.Language || g.Status != w.Status || g.Category != w.Category ||
			g.ParameterFormat != w.ParameterFormat || len(g.Params()) != len(w.Params()) {
			t.Errorf("template %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestListTemplatesBadToken(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.client.ListTemplates(context.Background(), demo.WABAID, "stolen")
	pe := metaErr(t, err, "")
	if pe.Code != 190 || pe.Class != provider.HoldChannel {
		t.Errorf("error %v, want 190, which holds the channel", err)
	}
}

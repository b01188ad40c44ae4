package sandbox_test

import (
	"encoding/json"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
)

// TestDomainRenderIsAccepted proves the gateway's renderer and the
// sandbox's checks agree: every demo template, rendered by domain.Render
// with all its params, is accepted.
func TestDomainRenderIsAccepted(t *testing.T) {
	_, srv := serve(t, sandbox.Default())
	for _, tpl := range demo.Templates() {
		t.Run(tpl.Name, func(t *testing.T) {
			// Unused keys are ignored by Render, so offering every button a
			// value also covers quick-reply payloads.
			params := map[string]string{domain.ButtonParam(0): "x", domain.ButtonParam(1): "x", domain.ButtonParam(2): "x"}
			for _, k := range tpl.Params() {
				params[k] = "x"
			}
			if _, ok := params[domain.ParamHeader]; ok {
				params[domain.ParamHeader] = "https://cdn.example.com/file.pdf"
			}
			m, err := domain.Render(tpl, params)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			body, _ := json.Marshal(map[string]any{
				"messaging_product": "whatsapp", "to": "5511988887777", "type": "template", "template": m,
			})
			if a := post(t, srv, sendPath(), demo.AccessToken, string(body)); a.Status != 200 {
				t.Errorf("rendered %s rejected: %+v, body %s", tpl.Name, a.Error, body)
			}
		})
	}
}

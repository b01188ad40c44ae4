// Package demo holds the demo tenant the dev stack seeds: one tenant, one
// connected channel and templates that cover every shape the gateway sends
// (positional body, named body, media header with a URL button) and the
// seeds' own examples, so each seed's example request works as written.
// The sandbox provider serves the same templates as Meta's side of the
// channel.
package demo

import "github.com/templategw/templategw/internal/domain"

// The demo tenant's fixed identifiers.
const (
	TenantID      = "demo"
	Token         = "demo-token" // overridden by TEMPLATEGW_DEMO_TOKEN
	ChannelID     = "main"
	SenderCode    = "0bc8f181-3f84-41dc-90f2-a28dd5f90e73" // seed 003's remetente
	DisplayNumber = "5511999990000"
	PhoneNumberID = "100000000000001"
	WABAID        = "200000000000001"
	CountryCode   = "55"
	// AccessToken is the Meta access token of the demo channel; the sandbox
	// accepts it and the dev stack hands it to dispatch through a secret
	// reference, never in a document.
	AccessToken = "sandbox-access-token"
	Namespace   = "cd551e83_8455_45fd_a2ff_35ef6a51f3c6" // seed 003's namespace
)

// Templates are the demo channel's approved templates. Each one's gateway
// id is its name.
func Templates() []domain.Template {
	return []domain.Template{
		{
			ID: "welcome", Name: "welcome", Language: "pt_BR", Category: "UTILITY", Status: domain.TemplateApproved,
			ParameterFormat: "POSITIONAL",
			Components: []domain.TemplateComponent{
				{Type: "BODY", Text: "Olá {{1}}, bem-vindo à {{2}}!"},
			},
		},
		{
			ID: "order_update", Name: "order_update", Language: "en_US", Category: "UTILITY", Status: domain.TemplateApproved,
			ParameterFormat: "NAMED",
			Components: []domain.TemplateComponent{
				{Type: "BODY", Text: "Hi {{first_name}}, your order {{order_id}} has shipped."},
				{Type: "FOOTER", Text: "Reply STOP to opt out"},
			},
		},
		{
			ID: "promo_image", Name: "promo_image", Language: "pt_BR", Category: "MARKETING", Status: domain.TemplateApproved,
			ParameterFormat: "POSITIONAL",
			Components: []domain.TemplateComponent{
				{Type: "HEADER", Format: "IMAGE"},
				{Type: "BODY", Text: "{{1}}, conheça a nova coleção!"},
				{Type: "BUTTONS", Buttons: []domain.TemplateButton{
					{Type: "URL", Text: "Comprar", URL: "https://shop.example.com/{{1}}"},
					{Type: "QUICK_REPLY", Text: "Não tenho interesse"},
				}},
			},
		},
		{
			// Seed 003's example: one variable, the client's name.
			ID: "alerta1", Name: "alerta1", Language: "pt_BR", Category: "MARKETING", Status: domain.TemplateApproved,
			ParameterFormat: "POSITIONAL", Namespace: Namespace,
			Components: []domain.TemplateComponent{
				{Type: "BODY", Text: "Olá, {{1}}! Somos da Hi Platform e gostaríamos de falar sobre os nossos canais de atendimento. Escreva 'quero saber mais' para falar com um de nossos representantes."},
			},
		},
		{
			// Seed 002's example: name, email and custom_code, a header
			// attachment and two button parameters.
			ID: "test_template", Name: "test_template", Language: "pt_BR", Category: "UTILITY", Status: domain.TemplateApproved,
			ParameterFormat: "NAMED",
			Components: []domain.TemplateComponent{
				{Type: "HEADER", Format: "DOCUMENT"},
				{Type: "BODY", Text: "Olá {{name}}, seu código é {{custom_code}}. Enviamos os detalhes para {{email}}."},
				{Type: "BUTTONS", Buttons: []domain.TemplateButton{
					{Type: "URL", Text: "Ver pedido", URL: "https://example.com/orders/{{1}}"},
					{Type: "URL", Text: "Suporte", URL: "https://example.com/help/{{1}}"},
				}},
			},
		},
	}
}

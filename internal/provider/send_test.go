package provider_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/sandbox"
)

// fixture is a sandbox served over real HTTP and a client pointed at it.
type fixture struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	client *provider.Client
}

func newFixture(t *testing.T, tweak func(*sandbox.Config, *provider.Config)) *fixture {
	t.Helper()
	scfg := sandbox.Default()
	pcfg := provider.Config{Timeout: 5 * time.Second}
	if tweak != nil {
		tweak(&scfg, &pcfg)
	}
	sb := sandbox.New(scfg)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	pcfg.BaseURL = srv.URL
	return &fixture{sb: sb, srv: srv, client: provider.New(pcfg, nil)}
}

func text(s string) domain.Parameter { return domain.Parameter{Type: "text", Text: s} }

func named(name, s string) domain.Parameter {
	return domain.Parameter{Type: "text", ParameterName: name, Text: s}
}

func welcome(params ...domain.Parameter) domain.TemplateMessage {
	return domain.TemplateMessage{
		Name: "welcome", Language: domain.Language{Code: "pt_BR"},
		Components: []domain.Component{{Type: "body", Parameters: params}},
	}
}

func request(to string, m domain.TemplateMessage) provider.SendRequest {
	return provider.SendRequest{
		PhoneNumberID: demo.PhoneNumberID,
		AccessToken:   demo.AccessToken,
		To:            to,
		Template:      m,
		CallbackData:  "msg-" + to,
	}
}

// metaErr extracts the *provider.Error and checks the error string keeps
// secrets out: no access token, no full phone number.
func metaErr(t *testing.T, err error, to string) *provider.Error {
	t.Helper()
	if err == nil {
		t.Fatal("Send succeeded, want an error")
	}
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *provider.Error", err)
	}
	msg := err.Error()
	if strings.Contains(msg, demo.AccessToken) || strings.Contains(msg, "Bearer") {
		t.Errorf("error %q leaks the access token", msg)
	}
	if to != "" && strings.Contains(msg, to) {
		t.Errorf("error %q contains the full phone number", msg)
	}
	return pe
}

func TestSendSuccessRecordsCallback(t *testing.T) {
	f := newFixture(t, nil)
	const to = "5511988887777"
	r := request(to, welcome(text("Maria"), text("Loja")))
	res, err := f.client.Send(context.Background(), r)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !strings.HasPrefix(res.WAMID, "wamid.") || len(res.WAMID) < 10 {
		t.Errorf("WAMID = %q, want wamid.<id>", res.WAMID)
	}
	if res.MessageStatus != "accepted" {
		t.Errorf("MessageStatus = %q, want accepted", res.MessageStatus)
	}
	reqs := f.sb.Requests()
	if len(reqs) != 1 {
		t.Fatalf("sandbox saw %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.To != to || got.CallbackData != r.CallbackData || got.WAMID != res.WAMID || got.Status != 200 {
		t.Errorf("recorded %+v, want to=%s callback=%s wamid=%s status 200", got, to, r.CallbackData, res.WAMID)
	}
	if got.Template.Name != "welcome" || got.Template.ParamCount("body") != 2 {
		t.Errorf("recorded template %+v, want welcome with 2 body parameters", got.Template)
	}
	if n := f.sb.CountByCallback(r.CallbackData); n != 1 {
		t.Errorf("CountByCallback = %d, want 1", n)
	}
}

func TestSendTemplateShapes(t *testing.T) {
	promo := domain.TemplateMessage{
		Name: "promo_image", Language: domain.Language{Code: "pt_BR"},
		Components: []domain.Component{
			{Type: "header", Parameters: []domain.Parameter{{Type: "image", Image: &domain.Media{Link: "https://cdn.example.com/a.png"}}}},
			{Type: "body", Parameters: []domain.Parameter{text("Ana")}},
			{Type: "button", SubType: "url", Index: "0", Parameters: []domain.Parameter{text("summer")}},
			{Type: "button", SubType: "quick_reply", Index: "1", Parameters: []domain.Parameter{{Type: "payload", Payload: "no"}}},
		},
	}
	docs := domain.TemplateMessage{
		Name: "test_template", Language: domain.Language{Code: "pt_BR"},
		Components: []domain.Component{
			{Type: "header", Parameters: []domain.Parameter{{Type: "document", Document: &domain.Media{Link: "https://cdn.example.com/a.pdf", Filename: "a.pdf"}}}},
			{Type: "body", Parameters: []domain.Parameter{named("email", "a@b.c"), named("name", "Ana"), named("custom_code", "X1")}},
			{Type: "button", SubType: "url", Index: "0", Parameters: []domain.Parameter{text("o-1")}},
			{Type: "button", SubType: "url", Index: "1", Parameters: []domain.Parameter{text("h-1")}},
		},
	}
	orderUpdate := func(ps ...domain.Parameter) domain.TemplateMessage {
		return domain.TemplateMessage{Name: "order_update", Language: domain.Language{Code: "en_US"},
			Components: []domain.Component{{Type: "body", Parameters: ps}}}
	}
	without := func(m domain.TemplateMessage, i int) domain.TemplateMessage {
		m.Components = append(append([]domain.Component{}, m.Components[:i]...), m.Components[i+1:]...)
		return m
	}
	tests := []struct {
		name string
		msg  domain.TemplateMessage
		code int // 0: accepted
	}{
		{"positional body", welcome(text("Maria"), text("Loja")), 0},
		{"named body", orderUpdate(named("first_name", "Ana"), named("order_id", "42")), 0},
		{"named body in another order", orderUpdate(named("order_id", "42"), named("first_name", "Ana")), 0},
		{"media header, URL button and quick reply", promo, 0},
		{"quick reply without payload", without(promo, 3), 0},
		{"document header and two URL buttons", docs, 0},
		{"too few body parameters", welcome(text("Maria")), 132000},
		{"too many body parameters", welcome(text("a"), text("b"), text("c")), 132000},
		{"named template sent positionally", orderUpdate(text("Ana"), text("42")), 132000},
		{"wrong parameter name", orderUpdate(named("first_name", "Ana"), named("order", "42")), 132000},
		{"media header missing", without(promo, 0), 132000},
		{"URL button parameter missing", without(promo, 2), 132000},
		{"second URL button missing", without(docs, 3), 132000},
		{"unknown template", domain.TemplateMessage{Name: "nope", Language: domain.Language{Code: "pt_BR"}}, 132001},
		{"known template, other language", func() domain.TemplateMessage { m := welcome(text("a"), text("b")); m.Language.Code = "en_US"; return m }(), 132001},
	}
	f := newFixture(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.client.Send(context.Background(), request("5511988887777", tt.msg))
			if tt.code == 0 {
				if err != nil || res.WAMID == "" {
					t.Fatalf("Send = %+v, %v; want accepted", res, err)
				}
				return
			}
			pe := metaErr(t, err, "5511988887777")
			if pe.Code != tt.code || pe.Class != provider.Permanent {
				t.Errorf("error %v: code %d class %v, want %d permanent", err, pe.Code, pe.Class, tt.code)
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name       string
		to         string
		token      string
		status     int
		code       int
		class      provider.Class
		retryAfter time.Duration
	}{
		{"bad token", "5511988887777", "wrong-token", 401, 190, provider.HoldChannel, 0},
		{"undeliverable", "5511900000001", "", 400, 131026, provider.Permanent, 0},
		{"server error", "5511900000002", "", 500, 131000, provider.Unknown, 0},
		{"throughput", "5511900000004", "", 429, 130429, provider.Retryable, time.Second},
		{"pair rate", "5511900000005", "", 400, 131056, provider.Retryable, 6 * time.Second},
		{"re-engagement", "5511900000006", "", 400, 131047, provider.Permanent, 0},
		{"accepted, answered 500", "5511900000010", "", 500, 131000, provider.Unknown, 0},
	}
	f := newFixture(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.to, welcome(text("a"), text("b")))
			if tt.token != "" {
				r.AccessToken = tt.token
			}
			_, err := f.client.Send(context.Background(), r)
			pe := metaErr(t, err, tt.to)
			if pe.HTTPStatus != tt.status || pe.Code != tt.code || pe.Class != tt.class || pe.RetryAfter != tt.retryAfter {
				t.Errorf("got HTTP %d code %d %v retry after %v; want HTTP %d code %d %v retry after %v",
					pe.HTTPStatus, pe.Code, pe.Class, pe.RetryAfter, tt.status, tt.code, tt.class, tt.retryAfter)
			}
			if strings.Contains(err.Error(), "wrong-token") {
				t.Errorf("error %q leaks the token", err)
			}
		})
	}
}

func TestSendFailsOnceThenSucceeds(t *testing.T) {
	f := newFixture(t, nil)
	r := request("5511900000008", welcome(text("a"), text("b")))
	_, err := f.client.Send(context.Background(), r)
	if pe := metaErr(t, err, r.To); pe.HTTPStatus != 503 || pe.Class != provider.Unknown {
		t.Fatalf("first send: %v, want a 503, whose outcome is unknown", err)
	}
	if _, err := f.client.Send(context.Background(), r); err != nil {
		t.Fatalf("second send: %v, want success", err)
	}
	if n := f.sb.CountByCallback(r.CallbackData); n != 2 {
		t.Errorf("CountByCallback = %d, want 2", n)
	}
}

// TestSendWithRevokedTokenHoldsChannel: a revoked token is refused with
// 190 whatever the recipient, which holds the channel, not the message.
func TestSendWithRevokedTokenHoldsChannel(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.sb.RevokeToken(demo.PhoneNumberID, true); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"5511988887777", "5511900000001"} {
		_, err := f.client.Send(context.Background(), request(to, welcome(text("a"), text("b"))))
		if pe := metaErr(t, err, to); pe.HTTPStatus != 401 || pe.Code != 190 || pe.Class != provider.HoldChannel {
			t.Errorf("send to …%s: %v, want 401 190 holding the channel", to[len(to)-4:], err)
		}
	}
}

func TestSendOverThroughputIsRetryable(t *testing.T) {
	f := newFixture(t, func(c *sandbox.Config, _ *provider.Config) { c.Numbers[0].MessagesPerSecond = 1 })
	r := request("5511988887777", welcome(text("a"), text("b")))
	if _, err := f.client.Send(context.Background(), r); err != nil {
		t.Fatalf("first send: %v", err)
	}
	_, err := f.client.Send(context.Background(), r)
	pe := metaErr(t, err, r.To)
	if pe.Code != 130429 || pe.Class != provider.Retryable || pe.RetryAfter != time.Second {
		t.Errorf("second send: %v (retry after %v), want 130429 retryable after 1s", err, pe.RetryAfter)
	}
}

func TestSendTimeoutAfterAcceptingIsUnknown(t *testing.T) {
	f := newFixture(t, func(c *sandbox.Config, p *provider.Config) {
		c.TimeoutDelay = 10 * time.Second
		p.Timeout = 200 * time.Millisecond
	})
	r := request("5511900000003", welcome(text("a"), text("b")))
	start := time.Now()
	_, err := f.client.Send(context.Background(), r)
	pe := metaErr(t, err, r.To)
	if pe.Class != provider.Unknown {
		t.Errorf("class %v, want unknown: the sandbox accepted the send", pe.Class)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v, want about the 200ms timeout", d)
	}
	reqs := f.sb.Requests()
	if len(reqs) != 1 || reqs[0].WAMID == "" {
		t.Errorf("sandbox recorded %+v, want one accepted send with a wamid", reqs)
	}
}

func TestSendConnectionRefusedIsRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := provider.New(provider.Config{BaseURL: "http://" + addr, Version: "v24.0", Timeout: 2 * time.Second}, nil)
	r := request("5511988887777", welcome(text("a"), text("b")))
	_, err = c.Send(context.Background(), r)
	pe := metaErr(t, err, r.To)
	if pe.Class != provider.Retryable || pe.HTTPStatus != 0 {
		t.Errorf("error %v: class %v, want retryable with no HTTP status", err, pe.Class)
	}
}

// TestSendBrokenAfterWriteIsUnknown drops the connection once the whole
// request has arrived, as a crash on Meta's side after accepting would.
func TestSendBrokenAfterWriteIsUnknown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}))
	defer srv.Close()
	c := provider.New(provider.Config{BaseURL: srv.URL, Timeout: 2 * time.Second}, nil)
	r := request("5511988887777", welcome(text("a"), text("b")))
	_, err := c.Send(context.Background(), r)
	if pe := metaErr(t, err, r.To); pe.Class != provider.Unknown {
		t.Errorf("error %v: class %v, want unknown", err, pe.Class)
	}
}

func TestSendUnexpectedAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		class  provider.Class
	}{
		{"2xx not JSON", 200, "ok", provider.Unknown},
		{"2xx without message id", 200, `{"messaging_product":"whatsapp","messages":[]}`, provider.Unknown},
		{"502 HTML from a proxy", 502, "<html>Bad Gateway</html>", provider.Unknown}, // the proxy may have passed it on
		{"404 not JSON", 404, "not found", provider.Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := provider.New(provider.Config{BaseURL: srv.URL, Timeout: 2 * time.Second}, nil)
			r := request("5511988887777", welcome(text("a"), text("b")))
			_, err := c.Send(context.Background(), r)
			if pe := metaErr(t, err, r.To); pe.Class != tt.class || pe.Code != 0 {
				t.Errorf("error %v: class %v code %d, want %v code 0", err, pe.Class, pe.Code, tt.class)
			}
		})
	}
}

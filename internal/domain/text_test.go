package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

func TestParseText(t *testing.T) {
	ok := []string{"hi", strings.Repeat("é", domain.MaxTextLength), " x "}
	for _, s := range ok {
		if got, err := domain.ParseText("messageText", s); err != nil || got != s {
			t.Errorf("ParseText(%.20q) = %q, %v", s, got, err)
		}
	}
	bad := map[string]string{
		"":   "required",
		"  ": "required",
		strings.Repeat("a", domain.MaxTextLength+1): "at most 4096",
		"\xff": "UTF-8",
	}
	for s, want := range bad {
		_, err := domain.ParseText("messageText", s)
		de := domainError(t, err)
		if de.Kind != domain.KindInvalid || !strings.Contains(de.Message, want) || len(de.Fields) != 1 || de.Fields[0] != "messageText" {
			t.Errorf("ParseText(%.20q) = %+v, want KindInvalid naming messageText and %q", s, de, want)
		}
	}
}

func TestCheckServiceWindow(t *testing.T) {
	now := time.Now()
	c := domain.Contact{Phone: "5511987650000", Windows: map[string]time.Time{"main": now.Add(time.Hour), "old": now.Add(-time.Second)}}
	if err := domain.CheckServiceWindow(c, "main", now); err != nil {
		t.Errorf("open window refused: %v", err)
	}
	for _, ch := range []string{"old", "other"} {
		if de := domainError(t, domain.CheckServiceWindow(c, ch, now)); de.Kind != domain.KindWindowClosed || !strings.Contains(de.Message, "24-hour") {
			t.Errorf("channel %s: %+v, want KindWindowClosed", ch, de)
		}
	}
	if domain.KindOf(domain.CheckServiceWindow(domain.Contact{}, "main", now)) != domain.KindWindowClosed {
		t.Error("a contact that never wrote has an open window")
	}
}

func TestNewTextMessage(t *testing.T) {
	now := time.Now()
	m := domain.NewTextMessage("id1", "t", "main", "5511987650000", "olá", now)
	if !m.IsText() || m.Text != "olá" || m.Status != domain.StatusAccepted || len(m.History) != 1 || m.TemplateID != "" {
		t.Errorf("message %+v", m)
	}
	if domain.NewMessage("id2", "t", "main", "5511987650000", "welcome", domain.TemplateMessage{}, now).IsText() {
		t.Error("a template message is text")
	}
}

func TestTemplateText(t *testing.T) {
	welcome := demoTemplate(t, "welcome")
	m, err := domain.Render(welcome, map[string]string{"1": "Maria", "2": "Loja"})
	if err != nil {
		t.Fatal(err)
	}
	if got := domain.TemplateText(welcome, m); got != "Olá Maria, bem-vindo à Loja!" {
		t.Errorf("positional: %q", got)
	}
	order := demoTemplate(t, "order_update")
	m, err = domain.Render(order, map[string]string{"first_name": "Ana", "order_id": "42"})
	if err != nil {
		t.Fatal(err)
	}
	if got := domain.TemplateText(order, m); got != "Hi Ana, your order 42 has shipped." {
		t.Errorf("named: %q", got)
	}
	if got := domain.TemplateText(welcome, domain.TemplateMessage{}); got != welcome.Body() {
		t.Errorf("without parameters: %q, want the body as it is", got)
	}
}

func TestKindWindowClosedIsItsOwn(t *testing.T) {
	for _, k := range []domain.Kind{
		domain.KindInternal, domain.KindNoData, domain.KindInvalid, domain.KindParamsMissing, domain.KindTemplate,
		domain.KindChannelNotConnected, domain.KindUnauthorized, domain.KindLimitReached, domain.KindNotFound,
		domain.KindInFlight, domain.KindKeyReused,
	} {
		if k == domain.KindWindowClosed {
			t.Errorf("KindWindowClosed = %d, the value of another kind", k)
		}
	}
}

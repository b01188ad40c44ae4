package messages_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/store"
)

// noMessages is a tenant without messages; it records the page token it
// was asked for, so a test sees what reached the store.
type noMessages struct{ asked *[]string }

func (noMessages) Message(context.Context, string, string) (domain.Message, error) {
	return domain.Message{}, store.ErrNotFound
}

func (n noMessages) Messages(_ context.Context, _ string, _ store.MessageFilter, _ int, pageToken string) ([]domain.Message, string, error) {
	*n.asked = append(*n.asked, pageToken)
	return nil, "", nil
}

func (n noMessages) Usage(_ context.Context, _, month string) ([]domain.UsageCount, error) {
	*n.asked = append(*n.asked, "usage "+month)
	return []domain.UsageCount{{Channel: demo.ChannelID, Category: "marketing", Count: 2}}, nil
}

// TestQueryOverItsBounds sends each query parameter past its bound, and
// odd values to both routes: a bound is a 400 naming the parameter and
// the bound, before the store is asked; nothing is a 5xx.
func TestQueryOverItsBounds(t *testing.T) {
	var asked []string
	h := messages.New(catalog.New(memory.NewSource(), 0), noMessages{&asked}).Handler()
	for _, c := range []struct{ query, says string }{
		{"pageToken=" + strings.Repeat("A", 513), "pageToken: at most 512 characters, got 513"},
		{"phone=" + strings.Repeat("5", 100_000), "phone: must be digits only, country code first, 8 to 15 digits"},
		{"status=" + strings.Repeat("s", 100_000), "status: must be one of"},
		{"limit=" + strings.Repeat("9", 100_000), "limit: must be a whole number from 1 to 500"},
	} {
		w := get(t, h, "/?"+c.query, memory.Token)
		e := wantError(t, w, http.StatusBadRequest, "invalid_argument", c.says)
		if len(e.Error.Message) > 500 {
			t.Errorf("%.30s: the answer echoes the value: %d bytes", c.query, len(e.Error.Message))
		}
	}
	if len(asked) != 0 {
		t.Errorf("the store was asked for pages %.40q", asked)
	}
	if w := get(t, h, "/?pageToken="+strings.Repeat("A", 512), memory.Token); w.Code != http.StatusOK || len(asked) != 1 {
		t.Errorf("a 512-character pageToken = %d %s, want it handed to the store", w.Code, w.Body.String())
	}
	for _, path := range []string{
		"/?phone=%00", "/?status=%ff%fe", "/?pageToken=%00%ff", "/?limit=%00",
		"/" + strings.Repeat("m", 600_000), "/%00", "/%ff", "/..%2f..",
	} {
		if w := get(t, h, path, memory.Token); w.Code >= 500 {
			t.Errorf("GET %.40s = %d %s", path, w.Code, w.Body.String())
		}
	}
}

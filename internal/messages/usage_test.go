package messages_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/messages"
)

// TestUsageMonth: the month is YYYY-MM, the current UTC month by default;
// anything else is a 400 naming month before the store is asked.
func TestUsageMonth(t *testing.T) {
	var asked []string
	s := messages.New(catalog.New(memory.NewSource(), 0), noMessages{&asked})
	// Late on the 31st in São Paulo is already the next month in UTC.
	s.Now = func() time.Time { return time.Date(2026, 5, 31, 22, 30, 0, 0, time.FixedZone("BRT", -3*3600)) }
	h := s.Handler()
	for _, bad := range []string{"", "2026-5", "2026-13", "05-2026", "2026-05-01", strings.Repeat("9", 100_000), "%00"} {
		w := get(t, h, "/usage?month="+bad, memory.Token)
		e := wantError(t, w, http.StatusBadRequest, "invalid_argument", "month")
		if len(e.Error.Message) > 200 {
			t.Errorf("the answer echoes the value: %d bytes", len(e.Error.Message))
		}
	}
	if len(asked) != 0 {
		t.Fatalf("the store was asked %q", asked)
	}
	w := get(t, h, "/usage", memory.Token)
	var u domain.Usage
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &u) != nil {
		t.Fatalf("GET /usage = %d %s", w.Code, w.Body.String())
	}
	want := domain.Usage{Month: "2026-06", Billable: 2, Categories: map[string]int{"marketing": 2},
		Channels: []domain.ChannelUsage{{Channel: "main", Billable: 2, Categories: map[string]int{"marketing": 2}}}}
	if !reflect.DeepEqual(u, want) || !reflect.DeepEqual(asked, []string{"usage 2026-06"}) {
		t.Errorf("GET /usage = %+v (asked %q), want %+v", u, asked, want)
	}
	if w := get(t, h, "/usage?month=2025-12", memory.Token); w.Code != http.StatusOK || asked[len(asked)-1] != "usage 2025-12" {
		t.Errorf("GET /usage?month=2025-12 = %d, asked %q", w.Code, asked)
	}
	wantError(t, get(t, h, "/usage", "wrong"), http.StatusUnauthorized, "unauthenticated")
}

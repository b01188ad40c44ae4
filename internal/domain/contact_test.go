package domain_test

import (
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/domain"
)

func TestFullName(t *testing.T) {
	tests := []struct {
		c    domain.Contact
		want string
	}{
		{domain.Contact{Phone: "5511", Name: "Maria S.", FirstName: "Maria", ProfileName: "M"}, "Maria S."},
		{domain.Contact{Phone: "5511", FirstName: "Maria", LastName: "Silva", ProfileName: "M"}, "Maria Silva"},
		{domain.Contact{Phone: "5511", ProfileName: "M"}, "M"},
		{domain.Contact{Phone: "5511"}, "5511"},
	}
	for _, tt := range tests {
		if got := tt.c.FullName(); got != tt.want {
			t.Errorf("%+v.FullName() = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestSetParamsMerges(t *testing.T) {
	c := domain.Contact{CustomParams: map[string]string{"city": "Recife", "plan": "gold"}}
	if err := c.SetParams("customParams", map[string]string{"city": "Natal", "a.b": "dots are names too"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"city": "Natal", "plan": "gold", "a.b": "dots are names too"}
	if !maps.Equal(c.CustomParams, want) {
		t.Errorf("params %v, want %v", c.CustomParams, want)
	}
}

func TestSetParamsRefusesAndKeepsTheContact(t *testing.T) {
	before := map[string]string{"city": "Recife"}
	bad := map[string]map[string]string{
		"a param needs a name":     {" ": "x", "ok": "y"},
		"reserved":                 {"__name__": "x"},
		"more than 2000":           {"long": strings.Repeat("x", domain.MaxParamValue+1)},
		"more than 100 characters": {strings.Repeat("n", domain.MaxParamNameLength+1): "x"},
		"control characters":       {"a\nb": "x"},
	}
	for want, updates := range bad {
		c := domain.Contact{CustomParams: maps.Clone(before)}
		de := domainError(t, c.SetParams("customParams", updates))
		if de.Kind != domain.KindInvalid || !strings.Contains(de.Message, want) {
			t.Errorf("%v: %+v, want KindInvalid saying %q", updates, de, want)
		}
		if !maps.Equal(c.CustomParams, before) {
			t.Errorf("%v: a refused update changed the contact to %v", updates, c.CustomParams)
		}
	}
	many := map[string]string{}
	for i := range domain.MaxParams {
		many["p"+strconv.Itoa(i)] = "x"
	}
	c := domain.Contact{CustomParams: maps.Clone(before)}
	if de := domainError(t, c.SetParams("customParams", many)); !strings.Contains(de.Message, "at most 100") {
		t.Errorf("101 params: %+v", de)
	}
}

func TestParseChatStatus(t *testing.T) {
	for in, want := range map[string]domain.ChatStatus{"open": domain.ChatOpen, "Pending": domain.ChatPending, " SOLVED ": domain.ChatSolved, "closed": domain.ChatClosed} {
		if got, err := domain.ParseChatStatus("chatStatus", in); err != nil || got != want {
			t.Errorf("ParseChatStatus(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "done"} {
		if de := domainError(t, func() error { _, err := domain.ParseChatStatus("chatStatus", in); return err }()); de.Kind != domain.KindInvalid || de.Fields[0] != "chatStatus" {
			t.Errorf("ParseChatStatus(%q): %+v", in, de)
		}
	}
	var c domain.Contact
	c.SetChatStatus("main", domain.ChatSolved)
	if c.ChatStatus["main"] != domain.ChatSolved {
		t.Errorf("chat status %v", c.ChatStatus)
	}
}

func TestSetName(t *testing.T) {
	c := domain.Contact{Name: "Maria"}
	if err := c.SetName("name", "  "); err != nil || c.Name != "Maria" {
		t.Errorf("blank name: %q, %v; want the name kept", c.Name, err)
	}
	if err := c.SetName("name", " Ana Souza "); err != nil || c.Name != "Ana Souza" {
		t.Errorf("name %q, %v", c.Name, err)
	}
	if de := domainError(t, c.SetName("name", strings.Repeat("a", domain.MaxNameLength+1))); de.Fields[0] != "name" || c.Name != "Ana Souza" {
		t.Errorf("long name: %+v, contact %q", de, c.Name)
	}
}

package domain_test

import (
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/domain"
)

func TestParsePhoneAccepts(t *testing.T) {
	for _, in := range []string{
		"50755667788",   // the seeds' Panama example (possible, though not valid)
		"5511987654321", // Brazilian mobile, São Paulo
		"551132654321",  // Brazilian landline
		"12025550123",   // NANP
		"4915112345678", // German mobile
	} {
		got, err := domain.ParsePhone(in)
		if err != nil {
			t.Errorf("ParsePhone(%q): unexpected error %v", in, err)
			continue
		}
		if got != in {
			t.Errorf("ParsePhone(%q) = %q, want it unchanged", in, got)
		}
	}
}

func TestParsePhoneRejects(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"plus sign", "+50755667788"},
		{"too short for +55", "55667788"},
		{"space", "507 55667788"},
		{"letter", "5075566778a"},
		{"empty", ""},
		{"leading zero", "0050755667788"},
		{"leading zero short", "011987654321"},
		{"too long", "5511987654321000"},
		{"fifteen digits impossible for +55", "551198765432100"},
		{"seven digits", "5075566"},
		{"dashes", "55-11-98765-4321"},
		{"unicode digits", "５５１１９８７６５４３２１"},
		{"trailing newline", "5511987654321\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.ParsePhone(tc.in)
			if err == nil {
				t.Fatalf("ParsePhone(%q) = %q, want an error", tc.in, got)
			}
			if got != "" {
				t.Errorf("ParsePhone(%q) answered %q together with an error, want \"\"", tc.in, got)
			}
			de := domainError(t, err)
			if de.Kind != domain.KindInvalid {
				t.Errorf("kind = %v, want KindInvalid", de.Kind)
			}
			if !strings.Contains(de.Message, "phoneNumber") {
				t.Errorf("message %q does not name phoneNumber", de.Message)
			}
			if len(de.Fields) != 1 || de.Fields[0] != "phoneNumber" {
				t.Errorf("fields = %q, want [phoneNumber]", de.Fields)
			}
		})
	}
}

func TestParseE164(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"+5511987654321", "5511987654321", true},
		{"5511987654321", "5511987654321", true},
		{" +50755667788 ", "50755667788", true},
		{"+55667788", "", false},
		{"++5511987654321", "", false},
		{"+55 11 98765 4321", "", false},
		{"+", "", false},
		{"", "", false},
	} {
		got, err := domain.ParseE164(tc.in)
		if tc.ok {
			if err != nil || got != tc.want {
				t.Errorf("ParseE164(%q) = %q, %v; want %q, nil", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseE164(%q) = %q, want an error", tc.in, got)
			continue
		}
		if k := domain.KindOf(err); k != domain.KindInvalid {
			t.Errorf("ParseE164(%q): kind %v, want KindInvalid", tc.in, k)
		}
	}
}

func TestParseNational(t *testing.T) {
	for _, tc := range []struct {
		in, cc, want string
	}{
		{"11987554321", "55", "5511987554321"},    // DDD + mobile
		{"1132654321", "55", "551132654321"},      // DDD + landline
		{" 11987554321 ", "55", "5511987554321"},  // surrounding space
		{"5511987654321", "55", "5511987654321"},  // already international
		{"+50755667788", "55", "50755667788"},     // explicit +: another country
		{"+5511987654321", "55", "5511987654321"}, // explicit +, same country
		{"55996543210", "55", "5555996543210"},    // DDD 55 (Santa Maria) is national first
		{"5555996543210", "55", "5555996543210"},  // ...and international when long enough
	} {
		got, err := domain.ParseNational(tc.in, tc.cc)
		if err != nil || got != tc.want {
			t.Errorf("ParseNational(%q, %q) = %q, %v; want %q, nil", tc.in, tc.cc, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "abc", "1198755432a", "+55667788", "(11) 98755-4321"} {
		got, err := domain.ParseNational(in, "55")
		if err == nil {
			t.Errorf("ParseNational(%q, 55) = %q, want an error", in, got)
			continue
		}
		if k := domain.KindOf(err); k != domain.KindInvalid {
			t.Errorf("ParseNational(%q, 55): kind %v, want KindInvalid", in, k)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"5511987654321", "*********4321"},
		{"50755667788", "*******7788"},
		{"12345", "*2345"},
		{"1234", "****"},
		{"12", "****"},
		{"", "****"},
	} {
		if got := domain.MaskPhone(tc.in); got != tc.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

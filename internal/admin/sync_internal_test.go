package admin

import (
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/domain"
)

func tpl(id, name, lang, status, body string) domain.Template {
	return domain.Template{ID: id, Name: name, Language: lang, Status: status, Components: []domain.TemplateComponent{{Type: "BODY", Text: body}}}
}

func TestPlanSyncKeepsIDs(t *testing.T) {
	stored := []domain.Template{
		tpl("welcome", "welcome", "pt_BR", "APPROVED", "Olá {{1}}"),
		tpl("hello", "greeting", "en_US", "APPROVED", "Hi {{1}}"), // an id set by hand
		tpl("greeting", "other_name", "en_US", "APPROVED", "x"),   // holds the bare name of another template
	}
	stored[0].Namespace = "ns-1"
	remote := []domain.Template{
		tpl("9001", "welcome", "pt_BR", "approved", "Olá {{1}}"),   // same, status in another case
		tpl("9002", "welcome", "en_US", "APPROVED", "Hello {{1}}"), // new language of a known name
		tpl("9003", "greeting", "en_US", "PAUSED", "Hi {{1}}"),     // known, changed
		tpl("9004", "greeting", "es_ES", "APPROVED", "Hola {{1}}"), // new, bare name taken
		tpl("9005", "fresh", "en_US", "PENDING", "New {{1}}"),
		tpl("9006", "fresh", "de_DE", "PENDING", "Neu {{1}}"),
	}
	items, err := planSync(stored, remote)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.Template.ID+"="+it.Template.Name+"/"+it.Template.Language+":"+string(it.Change))
		if it.Template.ID == "welcome" && it.Template.Namespace != "ns-1" {
			t.Errorf("welcome lost its namespace: %+v", it.Template)
		}
	}
	want := []string{
		"fresh=fresh/de_DE:added", "fresh_en_US=fresh/en_US:added",
		"hello=greeting/en_US:updated", "greeting_es_ES=greeting/es_ES:added",
		"welcome_en_US=welcome/en_US:added", "welcome=welcome/pt_BR:unchanged",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("plan:\n got %q\nwant %q", got, want)
	}
}

func TestPlanSyncUpdatesEveryAlias(t *testing.T) {
	stored := []domain.Template{tpl("promo", "promo_image", "pt_BR", "APPROVED", "a"), tpl("promo_image", "promo_image", "pt_BR", "APPROVED", "a")}
	items, err := planSync(stored, []domain.Template{tpl("1", "promo_image", "pt_BR", "PAUSED", "a")})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Change != updated || items[1].Change != updated || items[0].Template.Status != "PAUSED" {
		t.Fatalf("plan = %+v", items)
	}
}

func TestPlanSyncRefusesWhatCannotBeStored(t *testing.T) {
	for name, remote := range map[string][]domain.Template{
		"no language": {tpl("1", "a", "", "APPROVED", "x")},
		"slash":       {tpl("1", "a/b", "en_US", "APPROVED", "x")},
		"twice":       {tpl("1", "a", "en_US", "APPROVED", "x"), tpl("2", "a", "en_US", "APPROVED", "y")},
	} {
		if items, err := planSync(nil, remote); err == nil || !strings.Contains(err.Error(), "nothing was written") {
			t.Errorf("%s: %+v, %v", name, items, err)
		}
	}
}

func TestSameIgnoresEmptyVersusMissing(t *testing.T) {
	a := domain.Template{ID: "x", Name: "x", Components: []domain.TemplateComponent{}}
	b := domain.Template{ID: "x", Name: "x"}
	if !same(a, b) {
		t.Error("an empty and a missing component list differ")
	}
	b.Status = "APPROVED"
	if same(a, b) {
		t.Error("a status change went unnoticed")
	}
}

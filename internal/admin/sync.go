package admin

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// change is what a sync did to one template document.
type change string

// The changes a sync reports.
const (
	added     change = "added"
	updated   change = "updated"
	unchanged change = "unchanged"
)

// syncItem is one template document after a sync.
type syncItem struct {
	Template domain.Template
	Change   change
}

// planSync matches Meta's templates to the tenant's documents and gives
// each its gateway id. The id is what Atom clients send as templateId, so
// it never changes once given:
//
//   - a (name, language) the tenant already has keeps its document id(s),
//     the demo's ids (the name) and ids set by hand included;
//   - a new one gets its name when no document has that id, else
//     name_language (welcome_en_US), else name_language_2, _3, ...
//
// Templates are taken in (name, language) order, so when a new name comes
// in several languages at once the first language gets the bare name, and
// TemplateByName (the smallest id of a name) picks that one too.
// Fields Meta's list does not carry (the namespace) are kept from the
// stored document.
func planSync(stored, remote []domain.Template) ([]syncItem, error) {
	byKey := map[string][]domain.Template{}
	taken := map[string]bool{}
	for _, t := range stored {
		k := key(t.Name, t.Language)
		byKey[k] = append(byKey[k], t)
		taken[t.ID] = true
	}
	remote = append([]domain.Template(nil), remote...)
	sort.SliceStable(remote, func(i, j int) bool {
		if remote[i].Name != remote[j].Name {
			return remote[i].Name < remote[j].Name
		}
		return remote[i].Language < remote[j].Language
	})
	var bad []string
	seen := map[string]bool{}
	var out []syncItem
	for _, t := range remote {
		k := key(t.Name, t.Language)
		switch {
		case t.Name == "" || t.Language == "":
			bad = append(bad, fmt.Sprintf("Meta id %s has no name or language", t.ID))
			continue
		case !store.ValidID(t.Name):
			bad = append(bad, fmt.Sprintf("name %q cannot be a document id", t.Name))
			continue
		case seen[k]:
			bad = append(bad, fmt.Sprintf("%s (%s) is listed twice", t.Name, t.Language))
			continue
		}
		seen[k] = true
		t.Status = strings.ToUpper(t.Status)
		if olds := byKey[k]; len(olds) > 0 {
			for _, old := range olds {
				nt := t
				nt.ID = old.ID
				if nt.Namespace == "" {
					nt.Namespace = old.Namespace
				}
				ch := updated
				if same(old, nt) {
					ch = unchanged
				}
				out = append(out, syncItem{nt, ch})
			}
			continue
		}
		t.ID = freeID(taken, t.Name, t.Language)
		taken[t.ID] = true
		out = append(out, syncItem{t, added})
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("Meta's list has templates the gateway cannot store, nothing was written: %s", strings.Join(bad, "; "))
	}
	return out, nil
}

func key(name, language string) string { return name + "\x00" + language }

func freeID(taken map[string]bool, name, language string) string {
	if !taken[name] {
		return name
	}
	base := name + "_" + language
	id := base
	for n := 2; taken[id]; n++ {
		id = fmt.Sprintf("%s_%d", base, n)
	}
	return id
}

// same compares two templates by what they store; an empty list and a
// missing one are the same, as Firestore gives back either.
func same(a, b domain.Template) bool {
	return canonical(a) == canonical(b)
}

func canonical(t domain.Template) string {
	if len(t.Components) == 0 {
		t.Components = nil
	}
	raw, _ := json.Marshal(t) // strings and slices of them always marshal
	return string(raw)
}

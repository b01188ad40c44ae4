package sandbox

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"

	"github.com/templategw/templategw/internal/domain"
)

// waba is one WhatsApp Business Account: who may read its templates, and
// the templates in the order the list endpoint pages through them.
type waba struct {
	// mu guards the templates' status, quality and category, which the
	// control endpoint changes while sends read them.
	mu        sync.RWMutex
	tokens    map[string]bool // access tokens of the account's numbers
	templates []domain.Template
	byKey     map[string]*domain.Template // by templateKey(name, language)
}

func templateKey(name, language string) string { return name + "\x00" + language }

func (w *waba) setTemplates(wabaID string, ts []domain.Template) {
	w.templates = make([]domain.Template, len(ts))
	copy(w.templates, ts)
	for i := range w.templates {
		t := &w.templates[i]
		// domain.Template.ID is the gateway's own id (the demo uses the
		// name); Meta's ids are numeric, so the sandbox serves its own.
		t.ID = metaTemplateID(wabaID, t.Name, t.Language)
		w.byKey[templateKey(t.Name, t.Language)] = t
	}
}

// metaTemplateID makes a stable numeric id like Meta's, so clients that
// store Meta's id see the same one on every sync.
func metaTemplateID(wabaID, name, language string) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%s", wabaID, name, language)
	return strconv.FormatUint(h.Sum64()%1e15+1e15, 10)
}

// lookup finds the template a send names and says why it cannot be sent.
func (w *waba) lookup(name, language string) (*domain.Template, *apiError) {
	t, ok := w.byKey[templateKey(name, language)]
	if !ok {
		return nil, metaError(404, 132001, fmt.Sprintf("template name (%s) does not exist in %s", name, language))
	}
	w.mu.RLock()
	status := t.Status
	w.mu.RUnlock()
	switch strings.ToUpper(status) {
	case domain.TemplateApproved:
		return t, nil
	case "PAUSED":
		return nil, metaError(400, 132015, fmt.Sprintf("template %s (%s) is paused for low quality", name, language))
	case "DISABLED":
		return nil, metaError(400, 132016, fmt.Sprintf("template %s (%s) is disabled", name, language))
	default:
		// Meta does not distinguish a pending or rejected translation from
		// a missing one.
		return nil, metaError(404, 132001, fmt.Sprintf("template name (%s) does not exist in %s (status %s)", name, language, status))
	}
}

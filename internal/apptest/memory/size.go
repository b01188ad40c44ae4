package memory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// MaxDocument is Firestore's bound on one document, 1 MiB, less room for
// the document's name and for the numbers and times JSON writes shorter
// than Firestore stores them.
const MaxDocument = 1<<20 - 8<<10

// DocumentSize estimates from above what v takes as a Firestore document:
// its JSON, which quotes every string and names every field; without HTML
// escaping only control characters take more in JSON than in Firestore.
func DocumentSize(v any) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return -1
	}
	return b.Len()
}

// Oversized names each document the store holds that Firestore would
// refuse as larger than a document may be, with its estimated size: what
// the in-memory store cannot refuse itself, a test asks it.
func (s *Store) Oversized() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	check := func(kind, id string, v any, extra int) {
		if n := DocumentSize(v); n < 0 || n+extra > MaxDocument {
			out = append(out, fmt.Sprintf("%s %.40q: %d bytes", kind, id, n+extra))
		}
	}
	for id, m := range s.Messages {
		check("message", id, m, 0)
	}
	for id, c := range s.Contacts {
		check("contact", id, c, 0)
	}
	for id, k := range s.keys {
		// Firestore keeps the answer's bytes as they are; JSON would
		// write them in base64, a third longer.
		body := len(k.Body)
		k.Body = nil
		check("idempotency record", id, k, body)
	}
	sort.Strings(out)
	return out
}

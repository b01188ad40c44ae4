package store

import (
	"testing"
	"time"

	"cloud.google.com/go/firestore"
)

func TestFieldChangesWritesOnlyWhatChanged(t *testing.T) {
	type doc struct {
		ID    string    `firestore:"-"`
		Name  string    `firestore:"name"`
		Note  string    `firestore:"note,omitempty"`
		Lease time.Time `firestore:"lease,omitempty"`
		Tags  []string  `firestore:"tags"`
		Plain int
	}
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	before := doc{ID: "a", Name: "n", Note: "x", Lease: at, Tags: []string{"t"}, Plain: 1}
	after := before
	after.ID, after.Note, after.Lease, after.Tags, after.Plain = "b", "", at, []string{"t", "u"}, 2
	got := map[string]any{}
	for _, u := range fieldChanges(before, after) {
		got[u.Path] = u.Value
	}
	if len(got) != 3 || got["note"] != firestore.Delete || got["Plain"] != 2 {
		t.Fatalf("changes = %v; want note deleted, tags and Plain written, nothing else", got)
	}
	if tags, ok := got["tags"].([]string); !ok || len(tags) != 2 {
		t.Fatalf("tags written as %v", got["tags"])
	}
}

package indexes

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
)

func TestMissing(t *testing.T) {
	declared := []Index{
		// Equality fields in another order than the query's.
		{Collection: "messages", Fields: []Field{d("status"), a("phoneNumber"), d("createdAt"), d(DocumentID)}},
		// __name__ left implicit, as Terraform allows.
		{Collection: "messages", Fields: []Field{a("status"), a("updatedAt")}},
		{Collection: "inbound", Group: true, Fields: []Field{a("phone"), d("at"), d(DocumentID)}},
	}
	tests := []struct {
		name   string
		needed Index
		served bool
	}{
		{"equalities match as a set", Index{Collection: "messages", Fields: []Field{a("phoneNumber"), a("status"), d("createdAt"), d(DocumentID)}, Equalities: 2}, true},
		{"implicit __name__ follows the last field", Index{Collection: "messages", Fields: []Field{a("status"), a("updatedAt"), a(DocumentID)}, Equalities: 1}, true},
		{"needed without __name__ gets it too", Index{Collection: "messages", Fields: []Field{a("status"), a("updatedAt")}, Equalities: 1}, true},
		{"order fields are not a set", Index{Collection: "messages", Fields: []Field{a("phoneNumber"), a("status"), d("createdAt"), d(DocumentID)}}, false},
		{"direction of an ordered field", Index{Collection: "messages", Fields: []Field{a("status"), d("updatedAt"), d(DocumentID)}, Equalities: 1}, false},
		{"direction of __name__", Index{Collection: "messages", Fields: []Field{a("status"), a("updatedAt"), d(DocumentID)}, Equalities: 1}, false},
		{"an extra field", Index{Collection: "messages", Fields: []Field{a("status"), a("channel"), a("updatedAt"), a(DocumentID)}, Equalities: 2}, false},
		{"another collection", Index{Collection: "batches", Fields: []Field{a("status"), a("updatedAt"), a(DocumentID)}, Equalities: 1}, false},
		{"collection scope is not group scope", Index{Collection: "inbound", Fields: []Field{a("phone"), d("at"), d(DocumentID)}, Equalities: 1}, false},
		{"group scope", Index{Collection: "inbound", Group: true, Fields: []Field{a("phone"), d("at"), d(DocumentID)}, Equalities: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Missing([]Index{tt.needed}, declared)
			if served := len(got) == 0; served != tt.served {
				t.Errorf("Missing(%v) = %v, want served %v", tt.needed, got, tt.served)
			}
		})
	}
	twice := Index{Collection: "x", Fields: []Field{a("a"), a("b"), a(DocumentID)}}
	if got := Missing([]Index{twice, twice}, nil); len(got) != 1 {
		t.Errorf("a missing index needed twice is reported %d times", len(got))
	}
}

func TestUnserved(t *testing.T) {
	overrides := []Override{
		{Collection: "messages", Field: "updatedAt"}, // exempted
		{Collection: "messages", Field: "createdAt", Kept: []Index{{Collection: "messages", Fields: []Field{d("createdAt")}}}},
		{Collection: "chunks", Field: "n", Kept: []Index{{Collection: "chunks", Group: true, Fields: []Field{a("n")}}}},
		{Collection: "x", Field: "tags", Kept: []Index{{Collection: "x", Fields: []Field{{Path: "tags", Array: true}}}}},
	}
	tests := []struct {
		name   string
		single Index
		served bool
	}{
		{"a field nobody overrides", Index{Collection: "messages", Fields: []Field{a("status")}, Equalities: 1}, true},
		{"an exempted field ordered", Index{Collection: "messages", Fields: []Field{a("updatedAt")}}, false},
		{"an exempted field in an equality", Index{Collection: "messages", Fields: []Field{a("updatedAt")}, Equalities: 1}, false},
		{"the kept direction", Index{Collection: "messages", Fields: []Field{d("createdAt")}}, true},
		{"the other direction", Index{Collection: "messages", Fields: []Field{a("createdAt")}}, false},
		{"an equality takes either direction", Index{Collection: "messages", Fields: []Field{a("createdAt")}, Equalities: 1}, true},
		{"collection group, not kept at group scope", Index{Collection: "messages", Group: true, Fields: []Field{d("createdAt")}}, false},
		{"collection group, never automatic", Index{Collection: "inbound", Group: true, Fields: []Field{a("phone")}, Equalities: 1}, false},
		{"collection group, kept at group scope", Index{Collection: "chunks", Group: true, Fields: []Field{a("n")}}, true},
		{"array kept", Index{Collection: "x", Fields: []Field{{Path: "tags", Array: true}}}, true},
		{"ordered where only the array index is kept", Index{Collection: "x", Fields: []Field{a("tags")}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Unserved([]Index{tt.single}, overrides)
			if served := len(got) == 0; served != tt.served {
				t.Errorf("Unserved(%v) = %v, want served %v", tt.single, got, tt.served)
			}
		})
	}
	// Each field of an equality merge is checked on its own.
	merge := Index{Collection: "messages", Fields: []Field{a("status"), a("updatedAt")}, Equalities: 2}
	want := []Index{{Collection: "messages", Fields: []Field{a("updatedAt")}, Equalities: 1}}
	if got := Unserved([]Index{merge}, overrides); !reflect.DeepEqual(got, want) {
		t.Errorf("Unserved(%v) = %v, want %v", merge, got, want)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "firestore.tf"), []byte(schemaSrc), 0o600); err != nil {
		t.Fatal(err)
	}
	queries := []*firestorepb.StructuredQuery{
		// Served by messages (status, updatedAt).
		query("messages", and(where("status", eq), where("updatedAt", lt)), asc("updatedAt")),
		// Served by the kept descending createdAt index.
		query("messages", nil, desc("createdAt"), desc(DocumentID)),
		// Needs messages (status, createdAt desc), which is not declared.
		query("messages", where("status", eq), desc("createdAt"), desc(DocumentID)),
		// updatedAt is exempted from single-field indexing.
		query("messages", where("updatedAt", lt)),
	}
	got, err := Check(queries, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Index{
		{Collection: "messages", Fields: []Field{a("status"), d("createdAt"), d(DocumentID)}, Equalities: 1},
		{Collection: "messages", Fields: []Field{a("updatedAt")}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check = %v, want %v", got, want)
	}
	if _, err := Check(queries, t.TempDir()); err == nil || !strings.Contains(err.Error(), "no Terraform files") {
		t.Errorf("Check without Terraform: err = %v", err)
	}
}

package indexes

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const schemaSrc = `
resource "google_firestore_index" "messages_status_updatedAt" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updatedAt"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "inbound" {
  collection  = "inbound"
  query_scope = "COLLECTION_GROUP"

  fields {
    field_path   = "tags"
    array_config = "CONTAINS"
  }
}

resource "google_firestore_index" "explicit_name" {
  collection = "messages"
  fields {
    field_path = "phoneNumber"
    order      = "ASCENDING"
  }
  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

resource "google_firestore_field" "ttl_only" {
  collection = "idempotency"
  field      = "expireAt"
  ttl_config {}
}

resource "google_firestore_field" "exempt" {
  collection = "messages"
  field      = "updatedAt"
  index_config {}
}

resource "google_firestore_field" "keep_desc" {
  collection = "messages"
  field      = "createdAt"
  index_config {
    indexes {
      order = "DESCENDING"
    }
    indexes {
      array_config = "CONTAINS"
      query_scope  = "COLLECTION_GROUP"
    }
  }
}

resource "google_pubsub_topic" "ignored" {
  name = var.anything
}
`

func TestParseSchema(t *testing.T) {
	s, err := parseSchema(map[string][]byte{"firestore.tf": []byte(schemaSrc)})
	if err != nil {
		t.Fatal(err)
	}
	wantIndexes := []Index{
		{Collection: "messages", Fields: []Field{a("status"), a("updatedAt"), a(DocumentID)}},
		{Collection: "inbound", Group: true, Fields: []Field{{Path: "tags", Array: true}, a(DocumentID)}},
		{Collection: "messages", Fields: []Field{a("phoneNumber"), d("createdAt"), d(DocumentID)}},
	}
	if !reflect.DeepEqual(s.indexes, wantIndexes) {
		t.Errorf("indexes:\n got %v\nwant %v", s.indexes, wantIndexes)
	}
	wantOverrides := []Override{
		{Collection: "messages", Field: "updatedAt"},
		{Collection: "messages", Field: "createdAt", Kept: []Index{
			{Collection: "messages", Fields: []Field{d("createdAt")}},
			{Collection: "messages", Group: true, Fields: []Field{{Path: "createdAt", Array: true}}},
		}},
	}
	if !reflect.DeepEqual(s.overrides, wantOverrides) {
		t.Errorf("overrides:\n got %+v\nwant %+v", s.overrides, wantOverrides)
	}
}

func TestParseSchemaRejects(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"computed collection", `resource "google_firestore_index" "x" {
  collection = var.collection
  fields {
    field_path = "a"
    order      = "ASCENDING"
  }
}`, "collection at f.tf:2 must be a literal string"},
		{"no fields", `resource "google_firestore_index" "x" {
  collection = "c"
}`, "no fields"},
		{"order and array", `resource "google_firestore_index" "x" {
  collection = "c"
  fields {
    field_path   = "a"
    order        = "ASCENDING"
    array_config = "CONTAINS"
  }
}`, "both order and array_config"},
		{"bad order", `resource "google_firestore_field" "x" {
  collection = "c"
  field      = "f"
  index_config {
    indexes {
      order = "UP"
    }
  }
}`, `order "UP"`},
		{"field without name", `resource "google_firestore_field" "x" {
  collection = "c"
}`, "field is missing"},
		{"syntax", `resource "google_firestore_index" "x" {`, "parse f.tf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSchema(map[string][]byte{"f.tf": []byte(tt.src)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDeclaredReadsDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "firestore.tf"), []byte(schemaSrc), 0o600); err != nil {
		t.Fatal(err)
	}
	// Only *.tf files count, as for Terraform.
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not { hcl"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Declared(dir)
	if err != nil || len(got) != 3 {
		t.Fatalf("Declared = %v, %v; want 3 indexes", got, err)
	}
	o, err := Overrides(dir)
	if err != nil || len(o) != 2 {
		t.Fatalf("Overrides = %v, %v; want 2", o, err)
	}
	if _, err := Declared(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no Terraform files") {
		t.Errorf("empty directory: err = %v", err)
	}
}

// TestTerraformRoundTrip: what a failure message offers to paste parses
// back into the index it names.
func TestTerraformRoundTrip(t *testing.T) {
	for _, idx := range []Index{
		{Collection: "messages", Fields: []Field{a("phoneNumber"), d("createdAt"), d(DocumentID)}},
		{Collection: "inbound", Group: true, Fields: []Field{{Path: "tags", Array: true}, d("at"), d(DocumentID)}},
	} {
		src := idx.Terraform()
		s, err := parseSchema(map[string][]byte{"f.tf": []byte(src)})
		if err != nil || len(s.indexes) != 1 || !reflect.DeepEqual(s.indexes[0], idx) {
			t.Errorf("%v rendered as\n%s\nparses back as %v, %v", idx, src, s.indexes, err)
		}
	}
	single := Index{Collection: "messages", Group: true, Fields: []Field{d("createdAt")}}
	src := single.Terraform()
	s, err := parseSchema(map[string][]byte{"f.tf": []byte(src)})
	want := []Override{{Collection: "messages", Field: "createdAt", Kept: []Index{single}}}
	if err != nil || !reflect.DeepEqual(s.overrides, want) {
		t.Errorf("%v rendered as\n%s\nparses back as %+v, %v", single, src, s.overrides, err)
	}
	if !strings.Contains(src, "  collection = \"messages\"\n") {
		t.Errorf("not formatted like terraform fmt:\n%s", src)
	}
}

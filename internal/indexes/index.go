// Package indexes works out which Firestore indexes templategw's queries
// need and checks them against what terraform/ declares. The Firestore
// emulator runs every query without any index, so a query that would fail
// in the cloud with FAILED_PRECONDITION ("The query requires an index")
// passes every local test; recording the queries the tests send and
// checking them here closes that gap.
//
// The model is deliberately conservative: where Firestore might serve a
// query in more than one way (merging indexes, either direction of an
// equality field), it asks for the one index that certainly serves it.
package indexes

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

// DocumentID is the field path Firestore gives a document's id in
// queries and indexes.
const DocumentID = "__name__"

// Order is the direction of an indexed field.
type Order string

// The two directions, spelled as Firestore and Terraform spell them.
const (
	Ascending  Order = "ASCENDING"
	Descending Order = "DESCENDING"
)

// Field is one field of an index: ordered, or (Array) an array-contains
// entry, which has no direction.
type Field struct {
	Path  string
	Order Order
	Array bool
}

// String renders f as "path DESCENDING" or "path CONTAINS".
func (f Field) String() string {
	if f.Array {
		return f.Path + " CONTAINS"
	}
	return f.Path + " " + string(f.Order)
}

// Index is an index a query reads or a Terraform file declares: the
// collection id, its scope, and its fields in order. A composite index
// ends with __name__; Need always writes it, Declared adds it where
// Terraform leaves it implicit, so the two compare field by field.
type Index struct {
	Collection string
	// Group is true for a collection-group index (query_scope
	// COLLECTION_GROUP), which serves queries across every collection of
	// that id.
	Group  bool
	Fields []Field
	// Equalities is how many leading Fields come from equality filters.
	// Their order and direction in an index do not matter to Firestore,
	// so they match as a set. Declared indexes leave it 0.
	Equalities int
}

// String renders i on one line for messages, e.g.
// "messages (status ASCENDING, createdAt DESCENDING, __name__ DESCENDING)".
func (i Index) String() string {
	parts := make([]string, len(i.Fields))
	for n, f := range i.Fields {
		parts[n] = f.String()
	}
	scope := ""
	if i.Group {
		scope = " [collection group]"
	}
	return fmt.Sprintf("%s%s (%s)", i.Collection, scope, strings.Join(parts, ", "))
}

// Terraform renders i as the resource that provides it, formatted as
// terraform fmt would, ready to paste into terraform/firestore.tf: a
// google_firestore_index for a composite index, and for a one-field index
// (a single-field index an Override took away) the google_firestore_field
// whose index_config keeps it; merge that into the field's existing
// resource.
func (i Index) Terraform() string {
	var b strings.Builder
	if len(i.Fields) == 1 && i.Fields[0].Path != DocumentID {
		f := i.Fields[0]
		fmt.Fprintf(&b, "resource \"google_firestore_field\" %q {\n", i.resourceName())
		b.WriteString("database = google_firestore_database.default.name\n")
		fmt.Fprintf(&b, "collection = %q\nfield = %q\n\nindex_config {\nindexes {\n", i.Collection, f.Path)
		writeMode(&b, f)
		if i.Group {
			b.WriteString("query_scope = \"COLLECTION_GROUP\"\n")
		}
		b.WriteString("}\n}\n}\n")
		return string(hclwrite.Format([]byte(b.String())))
	}
	fmt.Fprintf(&b, "resource \"google_firestore_index\" %q {\n", i.resourceName())
	b.WriteString("database = google_firestore_database.default.name\n")
	fmt.Fprintf(&b, "collection = %q\n", i.Collection)
	if i.Group {
		b.WriteString("query_scope = \"COLLECTION_GROUP\"\n")
	}
	for _, f := range i.Fields {
		fmt.Fprintf(&b, "\nfields {\nfield_path = %q\n", f.Path)
		writeMode(&b, f)
		b.WriteString("}\n")
	}
	b.WriteString("}\n")
	return string(hclwrite.Format([]byte(b.String())))
}

func writeMode(b *strings.Builder, f Field) {
	if f.Array {
		b.WriteString("array_config = \"CONTAINS\"\n")
	} else {
		fmt.Fprintf(b, "order = %q\n", f.Order)
	}
}

// resourceName names the resource after its collection and fields, the
// way terraform/firestore.tf names its own.
func (i Index) resourceName() string {
	parts := []string{i.Collection}
	for _, f := range i.Fields {
		if f.Path == DocumentID {
			continue
		}
		p := f.Path
		if f.Order == Descending {
			p += "_desc"
		}
		parts = append(parts, p)
	}
	name := strings.Join(parts, "_")
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, name)
}

package indexes

import (
	"reflect"
	"testing"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
)

// Builders of the queries the Go client sends, kept terse so the table
// reads like the queries it stands for.

type op = firestorepb.StructuredQuery_FieldFilter_Operator

const (
	eq  = firestorepb.StructuredQuery_FieldFilter_EQUAL
	in  = firestorepb.StructuredQuery_FieldFilter_IN
	lt  = firestorepb.StructuredQuery_FieldFilter_LESS_THAN
	gt  = firestorepb.StructuredQuery_FieldFilter_GREATER_THAN
	ne  = firestorepb.StructuredQuery_FieldFilter_NOT_EQUAL
	arr = firestorepb.StructuredQuery_FieldFilter_ARRAY_CONTAINS
)

func ref(p string) *firestorepb.StructuredQuery_FieldReference {
	return &firestorepb.StructuredQuery_FieldReference{FieldPath: p}
}

func where(p string, o op) *firestorepb.StructuredQuery_Filter {
	return &firestorepb.StructuredQuery_Filter{FilterType: &firestorepb.StructuredQuery_Filter_FieldFilter{
		FieldFilter: &firestorepb.StructuredQuery_FieldFilter{Field: ref(p), Op: o, Value: &firestorepb.Value{}},
	}}
}

func unary(p string, o firestorepb.StructuredQuery_UnaryFilter_Operator) *firestorepb.StructuredQuery_Filter {
	return &firestorepb.StructuredQuery_Filter{FilterType: &firestorepb.StructuredQuery_Filter_UnaryFilter{
		UnaryFilter: &firestorepb.StructuredQuery_UnaryFilter{Op: o, OperandType: &firestorepb.StructuredQuery_UnaryFilter_Field{Field: ref(p)}},
	}}
}

func composite(o firestorepb.StructuredQuery_CompositeFilter_Operator, fs ...*firestorepb.StructuredQuery_Filter) *firestorepb.StructuredQuery_Filter {
	return &firestorepb.StructuredQuery_Filter{FilterType: &firestorepb.StructuredQuery_Filter_CompositeFilter{
		CompositeFilter: &firestorepb.StructuredQuery_CompositeFilter{Op: o, Filters: fs},
	}}
}

func and(fs ...*firestorepb.StructuredQuery_Filter) *firestorepb.StructuredQuery_Filter {
	return composite(firestorepb.StructuredQuery_CompositeFilter_AND, fs...)
}

func asc(p string) *firestorepb.StructuredQuery_Order {
	return &firestorepb.StructuredQuery_Order{Field: ref(p), Direction: firestorepb.StructuredQuery_ASCENDING}
}

func desc(p string) *firestorepb.StructuredQuery_Order {
	return &firestorepb.StructuredQuery_Order{Field: ref(p), Direction: firestorepb.StructuredQuery_DESCENDING}
}

func query(coll string, w *firestorepb.StructuredQuery_Filter, orders ...*firestorepb.StructuredQuery_Order) *firestorepb.StructuredQuery {
	return &firestorepb.StructuredQuery{
		From:    []*firestorepb.StructuredQuery_CollectionSelector{{CollectionId: coll}},
		Where:   w,
		OrderBy: orders,
	}
}

func a(p string) Field { return Field{Path: p, Order: Ascending} }
func d(p string) Field { return Field{Path: p, Order: Descending} }

func TestNeed(t *testing.T) {
	group := query("chunks", where("done", eq), asc("n"))
	group.From[0].AllDescendants = true

	tests := []struct {
		name      string
		q         *firestorepb.StructuredQuery
		want      Index
		composite bool
	}{
		{"whole collection", query("channels", nil),
			Index{Collection: "channels"}, false},
		{"by document id, paged", query("templates", nil, asc(DocumentID)),
			Index{Collection: "templates"}, false},
		{"equality only merges single-field indexes", query("chunks", where("done", eq)),
			Index{Collection: "chunks", Fields: []Field{a("done")}, Equalities: 1}, false},
		{"equality ordered by id ascending", query("templates", where("name", eq), asc(DocumentID)),
			Index{Collection: "templates", Fields: []Field{a("name")}, Equalities: 1}, false},
		{"equality ordered by id descending is given a composite index", query("templates", where("name", eq), desc(DocumentID)),
			Index{Collection: "templates", Fields: []Field{a("name"), d(DocumentID)}, Equalities: 1}, true},
		{"one ordered field", query("messages", nil, desc("createdAt"), desc(DocumentID)),
			Index{Collection: "messages", Fields: []Field{d("createdAt")}}, false},
		{"one ordered field, id the other way", query("messages", nil, desc("createdAt"), asc(DocumentID)),
			Index{Collection: "messages", Fields: []Field{d("createdAt"), a(DocumentID)}}, true},
		{"one inequality, implicit order", query("conversations", where("expiresAt", lt)),
			Index{Collection: "conversations", Fields: []Field{a("expiresAt")}}, false},
		{"equality then order, id follows the last order", query("messages", where("phoneNumber", eq), desc("createdAt")),
			Index{Collection: "messages", Fields: []Field{a("phoneNumber"), d("createdAt"), d(DocumentID)}, Equalities: 1}, true},
		{"two equalities in query order", query("messages", and(where("phoneNumber", eq), where("status", in)), desc("createdAt"), desc(DocumentID)),
			Index{Collection: "messages", Fields: []Field{a("phoneNumber"), a("status"), d("createdAt"), d(DocumentID)}, Equalities: 2}, true},
		{"equality and range on the ordered field", query("messages", and(where("status", eq), where("updatedAt", lt)), asc("updatedAt")),
			Index{Collection: "messages", Fields: []Field{a("status"), a("updatedAt"), a(DocumentID)}, Equalities: 1}, true},
		{"range fields are ordered after explicit orders, lexically", query("x", and(where("b", gt), where("a", ne)), desc("c")),
			Index{Collection: "x", Fields: []Field{d("c"), a("a"), a("b"), a(DocumentID)}}, true},
		{"range fields go before an explicit id order", query("x", where("b", gt), desc("c"), desc(DocumentID), asc("ignored")),
			Index{Collection: "x", Fields: []Field{d("c"), a("b"), d(DocumentID)}}, true},
		{"order on an equality field is dropped", query("x", where("s", eq), asc("s"), desc("t")),
			Index{Collection: "x", Fields: []Field{a("s"), d("t"), d(DocumentID)}, Equalities: 1}, true},
		{"filters on the id need no index field", query("x", and(where(DocumentID, eq), where("s", eq))),
			Index{Collection: "x", Fields: []Field{a("s")}, Equalities: 1}, false},
		{"array-contains alone", query("x", where("tags", arr)),
			Index{Collection: "x", Fields: []Field{{Path: "tags", Array: true}}}, false},
		{"array-contains with an order", query("x", where("tags", arr), desc("at")),
			Index{Collection: "x", Fields: []Field{{Path: "tags", Array: true}, d("at"), d(DocumentID)}}, true},
		{"null is an equality, not-null a range", query("x", and(unary("a", firestorepb.StructuredQuery_UnaryFilter_IS_NULL), unary("b", firestorepb.StructuredQuery_UnaryFilter_IS_NOT_NULL))),
			Index{Collection: "x", Fields: []Field{a("a"), a("b"), a(DocumentID)}, Equalities: 1}, true},
		{"OR is checked as AND", query("x", composite(firestorepb.StructuredQuery_CompositeFilter_OR, where("a", eq), where("b", eq)), asc("c")),
			Index{Collection: "x", Fields: []Field{a("a"), a("b"), a("c"), a(DocumentID)}, Equalities: 2}, true},
		{"collection group", group,
			Index{Collection: "chunks", Group: true, Fields: []Field{a("done"), a("n"), a(DocumentID)}, Equalities: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, composite := Need(tt.q)
			if composite != tt.composite || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Need = %v (eq %d), %v; want %v (eq %d), %v", got, got.Equalities, composite, tt.want, tt.want.Equalities, tt.composite)
			}
		})
	}
}

package indexes

import (
	"slices"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
)

// Need returns the index q reads and whether q needs a composite index,
// which Firestore never builds by itself and Terraform must declare.
//
// When it does, the Index is that composite index: the equality fields
// first (in query order, counted by Equalities), then any array-contains
// field, then the ordered fields (explicit orders, then the inequality
// fields not yet ordered, ascending, in lexical order, as Firestore adds
// them), and last __name__ in the direction of the query's final order.
//
// When it does not, Firestore's automatic single-field indexes serve q as
// long as a google_firestore_field has not taken them away; the Index
// then lists, one per field, the single-field indexes q uses, the first
// Equalities of them for equality filters (either direction serves those).
// A query that reads by document id alone needs no field at all.
//
// Conservative choices, where Firestore might do better: a query with
// equality filters ordered by __name__ descending, or with equality and
// array-contains filters together, is given a composite index instead of
// Firestore's merge of single-field indexes; OR filters are treated as if
// all their branches were ANDed; an orderBy on a field with an equality
// filter is dropped, as Firestore does.
func Need(q *firestorepb.StructuredQuery) (Index, bool) {
	idx := Index{}
	if from := q.GetFrom(); len(from) > 0 {
		idx.Collection = from[0].GetCollectionId()
		idx.Group = from[0].GetAllDescendants()
	}
	var s shape
	s.collect(q.GetWhere())

	orders, nameDir := s.orders(q.GetOrderBy())
	var eq []Field
	for _, p := range s.eq {
		eq = append(eq, Field{Path: p, Order: Ascending})
	}
	idx.Equalities = len(eq)

	switch {
	case len(orders) == 0 && len(s.array) == 0 && (len(eq) == 0 || nameDir == Ascending):
		// Document-id order over the merge of equality fields' single-field
		// indexes, or the collection's own key order.
		idx.Fields = eq
		return idx, false
	case len(eq) == 0 && len(s.array) == 0 && len(orders) == 1 && orders[0].Order == nameDir:
		// A single-field index holds __name__ in its own direction.
		idx.Fields = orders
		return idx, false
	case len(eq) == 0 && len(s.array) == 1 && len(orders) == 0 && nameDir == Ascending:
		idx.Fields = []Field{{Path: s.array[0], Array: true}}
		return idx, false
	}
	idx.Fields = append(idx.Fields, eq...)
	for _, p := range s.array {
		idx.Fields = append(idx.Fields, Field{Path: p, Array: true})
	}
	idx.Fields = append(idx.Fields, orders...)
	idx.Fields = append(idx.Fields, Field{Path: DocumentID, Order: nameDir})
	return idx, true
}

// shape is what a query's filters ask of an index.
type shape struct {
	eq, array, ineq []string
}

func (s *shape) collect(f *firestorepb.StructuredQuery_Filter) {
	switch {
	case f.GetCompositeFilter() != nil:
		for _, sub := range f.GetCompositeFilter().GetFilters() {
			s.collect(sub)
		}
	case f.GetFieldFilter() != nil:
		ff := f.GetFieldFilter()
		path := ff.GetField().GetFieldPath()
		switch ff.GetOp() {
		case firestorepb.StructuredQuery_FieldFilter_EQUAL, firestorepb.StructuredQuery_FieldFilter_IN:
			s.eq = appendNew(s.eq, path)
		case firestorepb.StructuredQuery_FieldFilter_ARRAY_CONTAINS, firestorepb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY:
			s.array = appendNew(s.array, path)
		default: // <, <=, >, >=, !=, not-in
			s.ineq = appendNew(s.ineq, path)
		}
	case f.GetUnaryFilter() != nil:
		uf := f.GetUnaryFilter()
		path := uf.GetField().GetFieldPath()
		switch uf.GetOp() {
		case firestorepb.StructuredQuery_UnaryFilter_IS_NULL, firestorepb.StructuredQuery_UnaryFilter_IS_NAN:
			s.eq = appendNew(s.eq, path)
		default: // IS_NOT_NULL and IS_NOT_NAN are != filters
			s.ineq = appendNew(s.ineq, path)
		}
	}
}

// orders normalises the query's ordering the way Firestore does: explicit
// orders (dropping equality fields and repeats), then the inequality
// fields not ordered yet, then __name__, whose direction it returns.
// Nothing after an explicit __name__ can change the order.
func (s *shape) orders(explicit []*firestorepb.StructuredQuery_Order) ([]Field, Order) {
	var out []Field
	seen := map[string]bool{}
	for _, p := range s.eq {
		seen[p] = true
	}
	var nameDir Order
	for _, o := range explicit {
		p := o.GetField().GetFieldPath()
		d := Ascending
		if o.GetDirection() == firestorepb.StructuredQuery_DESCENDING {
			d = Descending
		}
		if p == DocumentID {
			nameDir = d
			break
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, Field{Path: p, Order: d})
		}
	}
	rest := slices.Clone(s.ineq)
	slices.Sort(rest)
	for _, p := range rest {
		if p != DocumentID && !seen[p] {
			seen[p] = true
			out = append(out, Field{Path: p, Order: Ascending})
		}
	}
	if nameDir == "" {
		nameDir = Ascending
		if len(out) > 0 {
			nameDir = out[len(out)-1].Order
		}
	}
	return out, nameDir
}

// appendNew adds p once. A filter on __name__ is served by the document
// key itself, never by an index field.
func appendNew(list []string, p string) []string {
	if p == "" || p == DocumentID || slices.Contains(list, p) {
		return list
	}
	return append(list, p)
}

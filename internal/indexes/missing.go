package indexes

import (
	"fmt"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
)

// Missing returns the indexes of needed that no index of declared serves,
// each once. A declared index serves a needed one when it indexes the same
// collection in the same scope, starts with the needed equality fields in
// any order and direction, and then has exactly the needed fields,
// __name__ included.
func Missing(needed, declared []Index) []Index {
	var out []Index
	seen := map[string]bool{}
	for _, n := range needed {
		n = withName(n)
		if seen[n.String()] {
			continue
		}
		seen[n.String()] = true
		served := false
		for _, d := range declared {
			if serves(withName(d), n) {
				served = true
				break
			}
		}
		if !served {
			out = append(out, n)
		}
	}
	return out
}

// withName ends a composite index with the __name__ Firestore adds to it.
func withName(i Index) Index {
	if len(i.Fields) == 0 || i.Fields[len(i.Fields)-1].Path == DocumentID {
		return i
	}
	last := i.Fields[len(i.Fields)-1]
	dir := last.Order
	if last.Array {
		dir = Ascending
	}
	i.Fields = append(append([]Field(nil), i.Fields...), Field{Path: DocumentID, Order: dir})
	return i
}

func serves(d, n Index) bool {
	if d.Collection != n.Collection || d.Group != n.Group || len(d.Fields) != len(n.Fields) {
		return false
	}
	eq := map[string]bool{}
	for _, f := range n.Fields[:n.Equalities] {
		eq[f.Path] = true
	}
	for _, f := range d.Fields[:n.Equalities] {
		if f.Array || !eq[f.Path] {
			return false
		}
		delete(eq, f.Path)
	}
	for i := n.Equalities; i < len(n.Fields); i++ {
		if d.Fields[i] != n.Fields[i] {
			return false
		}
	}
	return true
}

// Unserved returns the single-field indexes that singles (what Need
// answered for queries that need no composite index) rely on but that an
// Override took away, as one-field Indexes. Firestore builds ascending,
// descending and array-contains indexes of every field by itself, but
// only at collection scope: a collection-group query needs an Override
// that keeps its index at COLLECTION_GROUP scope.
func Unserved(singles []Index, overrides []Override) []Index {
	byField := map[string]Override{}
	for _, o := range overrides {
		byField[o.Collection+"\x00"+o.Field] = o
	}
	var out []Index
	seen := map[string]bool{}
	for _, s := range singles {
		for i, f := range s.Fields {
			o, overridden := byField[s.Collection+"\x00"+f.Path]
			if !overridden && !s.Group {
				continue
			}
			if keeps(o, f, s.Group, i < s.Equalities) {
				continue
			}
			miss := Index{Collection: s.Collection, Group: s.Group, Fields: []Field{f}}
			if i < s.Equalities {
				miss.Equalities = 1
			}
			if !seen[miss.String()] {
				seen[miss.String()] = true
				out = append(out, miss)
			}
		}
	}
	return out
}

// keeps reports whether o keeps an index that serves f; an equality
// filter is served by either direction.
func keeps(o Override, f Field, group, equality bool) bool {
	for _, k := range o.Kept {
		kf := k.Fields[0]
		if k.Group != group || kf.Array != f.Array {
			continue
		}
		if f.Array || equality || kf.Order == f.Order {
			return true
		}
	}
	return false
}

// Check returns every index the queries need that the Terraform files of
// dir do not provide: composite indexes it does not declare, and
// single-field indexes its google_firestore_field resources took away.
func Check(queries []*firestorepb.StructuredQuery, dir string) ([]Index, error) {
	s, err := readSchema(dir)
	if err != nil {
		return nil, fmt.Errorf("read the indexes Terraform declares: %w", err)
	}
	var composite, single []Index
	for _, q := range queries {
		idx, ok := Need(q)
		if ok {
			composite = append(composite, idx)
		} else {
			single = append(single, idx)
		}
	}
	return append(Missing(composite, s.indexes), Unserved(single, s.overrides)...), nil
}

package store

import (
	"reflect"
	"strings"

	"cloud.google.com/go/firestore"
)

// fieldChanges are the updates that turn the stored document before into
// after, one per top-level field whose value differs, named by its
// firestore tag; an emptied omitempty field is deleted, as a Set of after
// would leave it out. It lets a write carry a precondition on the
// document's update time, which an Update takes and a Set does not,
// while writing only what changed. before and after are values of the
// same struct type.
func fieldChanges(before, after any) []firestore.Update {
	b, a := reflect.ValueOf(before), reflect.ValueOf(after)
	t := a.Type()
	var ups []firestore.Update
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("firestore"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		av := a.Field(i)
		if reflect.DeepEqual(b.Field(i).Interface(), av.Interface()) {
			continue
		}
		if strings.Contains(opts, "omitempty") && av.IsZero() {
			ups = append(ups, firestore.Update{Path: name, Value: firestore.Delete})
			continue
		}
		ups = append(ups, firestore.Update{Path: name, Value: av.Interface()})
	}
	return ups
}

package app

import "testing"

// Each function is deployable: a unique name, the handler of its kind and
// only that, and for a CloudEvent function a topic no other function is
// pushed from (two subscriptions on one topic would deliver each message
// to both).
func TestFunctionsAreWellFormed(t *testing.T) {
	names, topics := map[string]bool{}, map[string]string{}
	for _, f := range Functions {
		if f.Name == "" || names[f.Name] {
			t.Errorf("function name %q is empty or repeated", f.Name)
		}
		names[f.Name] = true
		switch f.Kind {
		case HTTP:
			if f.HTTP == nil || f.Event != nil || f.Topic != "" || f.DeadLetter != "" {
				t.Errorf("HTTP function %s: want an HTTP handler only, got %+v", f.Name, f)
			}
		case CloudEvent:
			if f.Event == nil || f.HTTP != nil || f.Topic == "" {
				t.Errorf("CloudEvent function %s: want an event handler and a topic, got %+v", f.Name, f)
			}
			if other, ok := topics[f.Topic]; ok {
				t.Errorf("%s and %s are both pushed from topic %s", other, f.Name, f.Topic)
			}
			topics[f.Topic] = f.Name
		default:
			t.Errorf("function %s has kind %d", f.Name, f.Kind)
		}
	}
	if len(topics) == 0 || len(topics) == len(Functions) {
		t.Errorf("%d of %d functions are CloudEvent: the table lost a kind", len(topics), len(Functions))
	}
}

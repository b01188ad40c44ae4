package domain_test

import (
	"errors"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

// demoTemplate returns the demo tenant's template with the given id.
func demoTemplate(t testing.TB, id string) domain.Template {
	t.Helper()
	for _, tpl := range demo.Templates() {
		if tpl.ID == id {
			return tpl
		}
	}
	t.Fatalf("demo template %q not found", id)
	return domain.Template{}
}

// domainError asserts err is a *domain.Error (possibly wrapped) and returns it.
func domainError(t testing.TB, err error) *domain.Error {
	t.Helper()
	if err == nil {
		t.Fatal("got nil error, want a *domain.Error")
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("got %T (%v), want a *domain.Error", err, err)
	}
	return de
}

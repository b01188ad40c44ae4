package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/templategw/templategw/internal/domain"
)

func TestFieldErrors(t *testing.T) {
	var fe domain.FieldErrors
	if err := fe.Err(); err != nil {
		t.Fatalf("empty FieldErrors.Err() = %v (%T), want nil", err, err)
	}
	fe.Add("phoneNumber", "required")
	fe.Add("assign", "must be a boolean")
	fe.Add("params", "must be an object")
	de := domainError(t, fe.Err())
	if de.Kind != domain.KindInvalid {
		t.Errorf("kind = %v, want KindInvalid", de.Kind)
	}
	if want := []string{"phoneNumber", "assign", "params"}; !reflect.DeepEqual(de.Fields, want) {
		t.Errorf("fields = %q, want %q", de.Fields, want)
	}
	if want := "invalid fields: phoneNumber: required; assign: must be a boolean; params: must be an object"; de.Message != want {
		t.Errorf("message = %q, want %q", de.Message, want)
	}
	if de.Error() != de.Message {
		t.Errorf("Error() = %q, want the message", de.Error())
	}
}

func TestErrorf(t *testing.T) {
	e := domain.Errorf(domain.KindTemplate, "template without id or message", "templateId")
	if e.Kind != domain.KindTemplate || e.Message != "template without id or message" || !reflect.DeepEqual(e.Fields, []string{"templateId"}) {
		t.Errorf("Errorf = %+v", e)
	}
	if e := domain.Errorf(domain.KindNoData, "no data to send"); len(e.Fields) != 0 {
		t.Errorf("fields = %q, want none", e.Fields)
	}
}

func TestKindOf(t *testing.T) {
	inv := domain.Errorf(domain.KindInvalid, "phoneNumber: required", "phoneNumber")
	for _, tc := range []struct {
		name string
		err  error
		want domain.Kind
	}{
		{"nil", nil, domain.KindInternal},
		{"plain", errors.New("boom"), domain.KindInternal},
		{"direct", inv, domain.KindInvalid},
		{"wrapped", fmt.Errorf("accept: %w", inv), domain.KindInvalid},
		{"wrapped twice", fmt.Errorf("handler: %w", fmt.Errorf("accept: %w", domain.Errorf(domain.KindLimitReached, "conversation limit reached"))), domain.KindLimitReached},
		{"joined", errors.Join(errors.New("other"), domain.Errorf(domain.KindUnauthorized, "incorrect token")), domain.KindUnauthorized},
		{"not wrapped (%v)", fmt.Errorf("accept: %v", inv), domain.KindInternal},
		{"transition is not a domain.Error", &domain.ErrTransition{From: domain.StatusRead, To: domain.StatusSent}, domain.KindInternal},
	} {
		if got := domain.KindOf(tc.err); got != tc.want {
			t.Errorf("%s: KindOf = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestKindValuesAreDistinct(t *testing.T) {
	kinds := []domain.Kind{
		domain.KindInternal, domain.KindNoData, domain.KindInvalid, domain.KindParamsMissing, domain.KindTemplate,
		domain.KindChannelNotConnected, domain.KindUnauthorized, domain.KindLimitReached, domain.KindNotFound,
		domain.KindInFlight, domain.KindKeyReused, domain.KindForbidden,
	}
	seen := map[domain.Kind]bool{}
	for _, k := range kinds {
		if seen[k] {
			t.Errorf("kind %d used twice", k)
		}
		seen[k] = true
	}
	// The zero value must be the safe default: an unclassified error is internal.
	if domain.KindInternal != 0 {
		t.Errorf("KindInternal = %d, want the zero value", domain.KindInternal)
	}
}

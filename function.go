// Package templategw registers templategw's Cloud Functions. Each deploys
// from this module root with FUNCTION_TARGET set to its name.
package templategw

import (
	"fmt"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/templategw/templategw/internal/app"
)

func init() {
	for _, f := range app.Functions {
		switch f.Kind {
		case app.HTTP:
			functions.HTTP(f.Name, f.HTTP)
		case app.CloudEvent:
			functions.CloudEvent(f.Name, f.Event)
		default:
			// A function left unregistered would deploy and answer 404
			// to everything: better no binary at all.
			panic(fmt.Sprintf("function %s has unknown kind %d", f.Name, f.Kind))
		}
	}
}

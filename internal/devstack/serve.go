package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/templategw/templategw/internal/app"
)

// Serve runs the registered function FUNCTION_TARGET names under the
// Functions Framework on PORT (default 8080), as the Cloud Functions
// runtime does, until ctx ends, and then gives back the leases the
// function's process holds (app.Shutdown), as a deployed instance does on
// SIGTERM. It listens on loopback only: the stack's front door is the way
// in. The calling binary registers the functions (by importing the module
// root).
func Serve(ctx context.Context) error {
	if os.Getenv("FUNCTION_TARGET") == "" {
		return errors.New("FUNCTION_TARGET is not set")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	errc := make(chan error, 1)
	go func() { errc <- funcframework.StartHostPort("127.0.0.1", port) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		if err := app.Shutdown(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(os.Stderr, "%s: giving back its leases: %v\n", os.Getenv("FUNCTION_TARGET"), err)
		}
		return nil
	}
}

package main

import (
	"context"
	"errors"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	// Registers the functions.
	_ "github.com/templategw/templategw"
)

// runServe serves one function under the Functions Framework, as the
// Cloud Functions runtime does: FUNCTION_TARGET names it, PORT its port.
// It listens on loopback only: the dev stack's front door is the way in.
func runServe(ctx context.Context, _ []string) error {
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
		return nil
	}
}

package main

import (
	"context"

	// Registers the functions.
	_ "github.com/templategw/templategw"

	"github.com/templategw/templategw/internal/devstack"
)

// runServe serves one function, as the Cloud Functions runtime does:
// FUNCTION_TARGET names it, PORT its port.
func runServe(ctx context.Context, _ []string) error { return devstack.Serve(ctx) }

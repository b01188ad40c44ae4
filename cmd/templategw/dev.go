package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/devstack"
)

func runDev(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("dev", flag.ContinueOnError)
	port := fl.Int("port", 8080, "front door port")
	data := fl.String("data", "", "keep the emulators' data in this directory across runs")
	if err := fl.Parse(args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	token := os.Getenv("TEMPLATEGW_DEMO_TOKEN")
	if token == "" {
		token = demo.Token
	}
	return devstack.Run(ctx, devstack.Options{
		Port: *port, DataDir: *data, DemoToken: token, Exe: exe, Out: os.Stdout, Logs: os.Stderr,
	})
}

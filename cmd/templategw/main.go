// Command templategw is templategw's one binary: `dev` runs the whole
// stack locally, `serve` runs one function (FUNCTION_TARGET) the way Cloud
// Functions does.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "templategw:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	if len(args) == 0 {
		usage()
		return fmt.Errorf("no command given")
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage()
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd.run(ctx, args[1:])
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{
	"dev":   {"run the whole stack locally on the emulators", runDev},
	"serve": {"serve the function named by FUNCTION_TARGET on PORT (what Cloud Functions runs)", runServe},
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: templategw <command> [flags]\n\ncommands:")
	for _, name := range []string{"dev", "serve"} {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", name, commands[name].summary)
	}
}

// Command templategw is templategw's one binary: `dev` runs the whole
// stack locally, `serve` runs one function (FUNCTION_TARGET) the way Cloud
// Functions does, and the admin commands (tenant, token, channel,
// templates, messages) manage a deployment's data in Firestore.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/templategw/templategw/internal/admin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "templategw:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds, order := commands(admin.New(admin.Options{}), stdout)
	if len(args) == 0 {
		usage(stderr, cmds, order)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout, cmds, order)
		return nil
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds, order)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd.run(ctx, args[1:])
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands are the binary's commands by name, and their order in the
// usage.
func commands(cli *admin.CLI, stdout io.Writer) (map[string]command, []string) {
	cmds := map[string]command{
		"dev":   {"run the whole stack locally on the emulators", runDev},
		"serve": {"serve the function named by FUNCTION_TARGET on PORT (what Cloud Functions runs)", runServe},
	}
	order := []string{"dev", "serve"}
	for _, g := range cli.Groups() {
		name := g.Name
		cmds[name] = command{g.Summary, func(ctx context.Context, args []string) error {
			return cli.Run(ctx, append([]string{name}, args...), stdout)
		}}
		order = append(order, name)
	}
	return cmds, order
}

func usage(w io.Writer, cmds map[string]command, order []string) {
	fmt.Fprintln(w, "usage: templategw <command> [flags]\n\ncommands:")
	for _, name := range order {
		fmt.Fprintf(w, "  %-10s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w, "\nThe admin commands (tenant, token, channel, templates, messages) work on the\n"+
		"Firestore emulator when FIRESTORE_EMULATOR_HOST is set, else on the project's\n"+
		"database with Application Default Credentials. Run 'templategw <command> --help'.")
}

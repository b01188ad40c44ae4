package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestUsageListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		var out, errOut bytes.Buffer
		if err := realMain(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, cmd := range []string{"dev", "serve", "tenant", "token", "channel", "templates", "messages"} {
			if !strings.Contains(out.String(), "\n  "+cmd+" ") {
				t.Errorf("%v: usage does not list %s:\n%s", args, cmd, out.String())
			}
		}
		if errOut.Len() != 0 {
			t.Errorf("help wrote to stderr: %s", errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if err := realMain(context.Background(), nil, &out, &errOut); err == nil || !strings.Contains(errOut.String(), "tenant") {
		t.Errorf("no command: %v, stderr %q", err, errOut.String())
	}
	errOut.Reset()
	if err := realMain(context.Background(), []string{"frobnicate"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), `"frobnicate"`) {
		t.Errorf("unknown command: %v", err)
	}
}

// The binary hands admin commands to the admin CLI: help reaches its
// output, and a bad flag is refused before any connection is made.
func TestAdminCommandsAreWired(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := realMain(context.Background(), []string{"channel", "add", "--help"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "usage: templategw channel add [flags]") || !strings.Contains(out.String(), "--secret-ref") {
		t.Errorf("channel add --help:\n%s", out.String())
	}
	out.Reset()
	err := realMain(context.Background(), []string{"channel", "add", "--project", "p", "--tenant", "t", "--id", "main",
		"--display-number", "5511999990000", "--phone-number-id", "1", "--waba-id", "2", "--secret-ref", "env:T", "--mps", "5000"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--mps 5000") || out.Len() != 0 {
		t.Errorf("bad --mps: %v, output %q", err, out.String())
	}
	if err := realMain(context.Background(), []string{"messages"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "get, list") {
		t.Errorf("messages without a command: %v", err)
	}
}

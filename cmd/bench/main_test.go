package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestHelpNamesEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if err := realMain(context.Background(), []string{"--help"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-duration", "-concurrency", "-contacts", "-json", "-profile", "-only", "-pace-messages", "-fairness-contacts", "-recovery-messages", "-life-messages", "-repetitions", "-logs"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("usage does not mention %s:\n%s", flag, out.String())
		}
	}
}

// Bad arguments are refused before anything starts.
func TestBadArgumentsAreRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--concurrency", "1,4"}, "-concurrency"},
		{[]string{"--concurrency", "-1"}, "concurrency -1"},
		{[]string{"--contacts", "100001"}, "contacts 100001"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--only", "pacing,nope"}, `unknown phase "nope"`},
		{[]string{"--pace-messages", "-1"}, "pace messages -1"},
		{[]string{"--repetitions", "-1"}, "repetitions -1"},
		{[]string{"--recovery-messages", "1000001"}, "recovery messages 1000001"},
	} {
		var out bytes.Buffer
		err := realMain(context.Background(), c.args, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error naming %q", c.args, err, c.want)
		}
	}
}

// The serve subcommand is how the stack's processes run the functions.
func TestServeNeedsATarget(t *testing.T) {
	t.Setenv("FUNCTION_TARGET", "")
	if err := realMain(context.Background(), []string{"serve"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "FUNCTION_TARGET") {
		t.Errorf("serve without FUNCTION_TARGET: %v", err)
	}
}

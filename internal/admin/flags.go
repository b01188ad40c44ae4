package admin

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"
)

// flags is one command's flag set plus the flags every command has.
type flags struct {
	fs      *flag.FlagSet
	path    string // "tenant create"
	summary string
	project string
	json    bool
}

func newFlags(path, summary string) *flags {
	f := &flags{fs: flag.NewFlagSet(path, flag.ContinueOnError), path: path, summary: summary}
	// The flag package would print its own message and usage; errors are
	// returned instead, and help goes to the command's output.
	f.fs.SetOutput(io.Discard)
	f.fs.StringVar(&f.project, "project", os.Getenv("GOOGLE_CLOUD_PROJECT"), "Google Cloud project (default $GOOGLE_CLOUD_PROJECT)")
	f.fs.BoolVar(&f.json, "json", false, "print JSON instead of a table")
	return f
}

// parse reads args; errHelp when --help was asked for (and printed).
func (f *flags) parse(args []string, out io.Writer) error {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.usage(out)
			return errHelp
		}
		return f.errorf("%v", strings.Replace(err.Error(), " -", " --", 1))
	}
	if f.fs.NArg() > 0 {
		return f.errorf("unexpected argument %q", f.fs.Arg(0))
	}
	if f.project == "" {
		return f.errorf("--project is required (or set GOOGLE_CLOUD_PROJECT)")
	}
	return nil
}

// errorf is a usage error: it names the command and where help is.
func (f *flags) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s (see templategw %s --help)", f.path, fmt.Sprintf(format, args...), f.path)
}

// required names, in one error, every listed flag left empty.
func (f *flags) required(names ...string) error {
	var missing []string
	for _, n := range names {
		if strings.TrimSpace(f.fs.Lookup(n).Value.String()) == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	verb := "are"
	if len(missing) == 1 {
		verb = "is"
	}
	return f.errorf("%s %s required", strings.Join(missing, ", "), verb)
}

// given reports whether the command line set the flag, to an empty value
// or not.
func (f *flags) given(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// usage lists the command's flags with two dashes, as the docs write them.
func (f *flags) usage(out io.Writer) {
	fmt.Fprintf(out, "usage: templategw %s [flags]\n\n%s.\n\nflags:\n", f.path, capitalize(f.summary))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	f.fs.VisitAll(func(fl *flag.Flag) {
		kind, usage := flag.UnquoteUsage(fl)
		name := "--" + fl.Name
		if kind != "" {
			name += " " + kind
		}
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" && fl.Name != "project" {
			usage += " (default " + fl.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	tw.Flush()
}

// emit prints v as indented JSON, or calls table with a tab writer.
func emit(out io.Writer, asJSON bool, v any, table func(tw *tabwriter.Writer)) error {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// row writes one tab-separated line.
func row(tw io.Writer, cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
		if s[i] == "" {
			s[i] = "-"
		}
	}
	fmt.Fprintln(tw, strings.Join(s, "\t"))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// idPattern is what tenant and channel ids may be: they appear in URL
// paths (Wati's /{tenantId}/…, CloudChat's account) and document ids.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// digits reports whether s is 1 to max ASCII digits.
func digits(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// splitList splits a comma-separated flag, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

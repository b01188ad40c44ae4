package admin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// usage prints what GET /messages/usage answers: a tenant's messages Meta
// reported billable in a month, per channel and pricing category, read
// from the month's billable messages.
func (c *CLI) usage(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("usage", "sum a tenant's billable messages of a month per channel and pricing category: what Meta will bill")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	month := f.fs.String("month", "", "calendar month as YYYY-MM, UTC (default the current one)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant"); err != nil {
		return err
	}
	m := domain.MonthKey(time.Now())
	if f.given("month") {
		var err error
		if m, err = domain.ParseMonth("month", *month); err != nil {
			return f.errorf("--month %q: want YYYY-MM", *month)
		}
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	counts, err := st.Usage(ctx, *tenant, m)
	if err != nil {
		return err
	}
	u := domain.SumUsage(m, counts)
	return emit(out, f.json, u, func(tw *tabwriter.Writer) {
		row(tw, "CHANNEL", "CATEGORY", "BILLABLE")
		for _, ch := range u.Channels {
			for _, cat := range sortedKeys(ch.Categories) {
				row(tw, ch.Channel, cat, ch.Categories[cat])
			}
		}
		for _, cat := range sortedKeys(u.Categories) {
			row(tw, "all", cat, u.Categories[cat])
		}
		fmt.Fprintf(tw, "\n%s: %d billable messages\n", u.Month, u.Billable)
	})
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

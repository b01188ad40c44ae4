package admin_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/batches"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

// nopFanout drops fan-out events: the CLI is what is tested.
type nopFanout struct{}

func (nopFanout) PublishJSON(context.Context, any, map[string]string) error { return nil }

// TestBatchesCommands follows and steers a broadcast from the CLI, with
// the batches API's own shapes.
func TestBatchesCommands(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok, err := e.Catalog.Authenticate(ctx, apptest.Token)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	_, err = batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, nopFanout{}, batch.Options{}).Create(ctx, tok,
		batch.Spec{Source: "emkt", Code: "LOTECLI", TemplateName: "alerta1", Channel: demo.SenderCode, National: true, Positional: true},
		func() (batch.Recipient, bool, error) {
			if i == 3 {
				return batch.Recipient{}, false, nil
			}
			i++
			return batch.Recipient{Raw: fmt.Sprintf("1198765%04d", 2000+i), Params: map[string]string{"1": "Ana"}}, true, nil
		})
	if err != nil {
		t.Fatal(err)
	}

	var list batches.ListView
	e.mustJSON(t, &list, "batches", "list", "--tenant", e.Tenant)
	if len(list.Batches) != 1 || list.Batches[0].ID != "LOTECLI" || list.Batches[0].State != domain.BatchRunning {
		t.Fatalf("batches list --json = %+v", list)
	}
	var v batches.View
	e.mustJSON(t, &v, "batches", "get", "--tenant", e.Tenant, "--id", "LOTECLI")
	if v.Counts == nil || v.Counts.Accepted != 3 || v.Recipients != 3 {
		t.Fatalf("batches get --json = %+v", v)
	}
	if table := e.must(t, "batches", "get", "--tenant", e.Tenant, "--id", "LOTECLI"); !strings.Contains(table, "accepted") || !strings.Contains(table, "running") {
		t.Errorf("batches get table:\n%s", table)
	}
	// resume publishes the chunks it hands back on the fan-out topic named.
	var handedBack atomic.Int32
	e.Push(t, "cli-fanout", func(context.Context, event.Event) error { handedBack.Add(1); return nil })
	for _, c := range []struct {
		args []string
		want domain.BatchState
	}{
		{[]string{"pause"}, domain.BatchPaused},
		{[]string{"resume", "--fanout-topic", "cli-fanout"}, domain.BatchRunning},
		{[]string{"cancel", "--fanout-topic", ""}, domain.BatchCancelled},
	} {
		var v batches.View
		e.mustJSON(t, &v, append([]string{"batches", c.args[0], "--tenant", e.Tenant, "--id", "LOTECLI"}, c.args[1:]...)...)
		if v.State != c.want {
			t.Fatalf("batches %s: %s, want %s", c.args[0], v.State, c.want)
		}
	}
	wait.Until(t, 30*time.Second, "resume to publish a fan-out event", func() bool { return handedBack.Load() > 0 })
	if r, err := e.Store.BatchByCode(ctx, e.Tenant, "LOTECLI"); err != nil || r.State != domain.BatchCancelled {
		t.Fatalf("stored %+v %v, want cancelled", r.BatchLifecycle, err)
	}
	for _, bad := range [][]string{
		{"batches", "resume", "--tenant", e.Tenant, "--id", "LOTECLI", "--fanout-topic", ""}, // cancelled for good
		{"batches", "get", "--tenant", e.Tenant, "--id", "NOPE"},
		{"batches", "get", "--tenant", e.Tenant},
		{"batches", "list", "--tenant", e.Tenant, "--limit", "0"},
		{"batches", "list", "--tenant", e.Tenant, "--page-token", "bogus"},
		{"batches", "pause", "--tenant", "nobody", "--id", "LOTECLI"},
	} {
		if out, err := e.run(bad...); err == nil {
			t.Errorf("%v succeeded: %s", bad, out)
		}
	}
}

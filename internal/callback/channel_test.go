package callback_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
)

var tokenHold = domain.Hold{Code: 190, Reason: "Error validating access token",
	Since: time.Date(2026, 3, 2, 9, 0, 0, 123e6, time.FixedZone("BRT", -3*3600))}

func TestChannelHeldEvent(t *testing.T) {
	ev := callback.ChannelHeldEventOf("main", tokenHold)
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"channel.main.held.1772452800123","type":"channel.held","timestamp":"2026-03-02T12:00:00.123Z",` +
		`"channel":"main","hold":{"code":190,"reason":"Error validating access token","since":"2026-03-02T12:00:00.123Z"}}`
	if string(body) != want {
		t.Errorf("body\n %s\nwant\n %s", body, want)
	}
	// Every retry of one hold has one id; a later hold of the channel another.
	if again := callback.ChannelHeldEventOf("main", tokenHold); again.ID != ev.ID {
		t.Errorf("ids %s and %s for one hold", ev.ID, again.ID)
	}
	later := tokenHold
	later.Since = later.Since.Add(time.Hour)
	if callback.ChannelHeldEventOf("main", later).ID == ev.ID {
		t.Error("a later hold has the same id")
	}
}

func TestNotifyChannelHeldPublishesToTheURL(t *testing.T) {
	p := &publisher{}
	n := callback.NewNotifier(p)
	n.NotifyChannelHeld(quiet(), "acme", "https://hooks.acme.example/t", "main", tokenHold)
	n.NotifyChannelHeld(quiet(), "acme", "", "main", tokenHold) // no URL: nothing
	calls := p.published()
	if len(calls) != 1 {
		t.Fatalf("%d publishes, want 1", len(calls))
	}
	j, ok := calls[0].v.(callback.Job)
	want := callback.Job{Tenant: "acme", URL: "https://hooks.acme.example/t", Event: callback.ChannelHeldEventOf("main", tokenHold)}
	if !ok || !reflect.DeepEqual(j, want) {
		t.Errorf("published %+v, want %+v", calls[0].v, want)
	}
	if calls[0].attrs["tenant"] != "acme" || calls[0].attrs["event"] != want.Event.ID {
		t.Errorf("attributes %v", calls[0].attrs)
	}
}

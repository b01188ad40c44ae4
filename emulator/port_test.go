//go:build unix

package emulator

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
)

// TestPubSubRestartsOnItsPort stops a Pub/Sub emulator and starts a new
// one on the same port, as a fault test does to take Pub/Sub away from
// running clients and give it back where they point. The new emulator
// starts empty: topics never survive a restart.
func TestPubSubRestartsOnItsPort(t *testing.T) {
	t.Parallel()
	first, err := StartPubSub(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Stop() })
	topic := "http://" + first.Host + "/v1/projects/port-test/topics/topic-1"
	mustDo(t, http.MethodPut, topic, "", http.StatusOK)
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(first.Host)
	port, _ := strconv.Atoi(p)

	again, err := StartPubSub(context.Background(), Options{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Stop() })
	if again.Host != first.Host {
		t.Fatalf("restarted on %s, want %s", again.Host, first.Host)
	}
	mustDo(t, http.MethodGet, topic, "", http.StatusNotFound)
	mustDo(t, http.MethodPut, topic, "", http.StatusOK)
}

// TestFixedPortTakenFails: a fixed port someone else holds fails the
// start instead of moving the emulator to a port its clients do not know.
func TestFixedPortTakenFails(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	e, err := StartPubSub(context.Background(), Options{Port: taken.Addr().(*net.TCPAddr).Port})
	if err == nil {
		e.Stop()
		t.Fatalf("started on %s, a port already taken", e.Host)
	}
	if !errors.Is(err, errPortTaken) {
		t.Fatalf("error %v, want a taken port", err)
	}
}

func TestStackRefusesOnePortForBoth(t *testing.T) {
	t.Parallel()
	if s, err := Start(context.Background(), Options{Port: 8085}); err == nil {
		s.Stop()
		t.Fatal("Start took one port for two emulators")
	}
}

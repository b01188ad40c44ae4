package devstack

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestListensOnTellsOwnersApart: a port this process listens on is its
// own; one another process holds, or nobody, is not.
func TestListensOnTellsOwnersApart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	mine, known := listensOn(os.Getpid(), port)
	if !known {
		t.Skip("no /proc: the start falls back to a connection")
	}
	if !mine {
		t.Errorf("this process's listener on %d is not seen as its own", port)
	}
	if theirs, _ := listensOn(os.Getppid(), port); theirs {
		t.Errorf("the parent process is seen listening on this process's port %d", port)
	}
	l.Close()
	if after, _ := listensOn(os.Getpid(), port); after {
		t.Errorf("a closed listener on %d is still seen", port)
	}
}

func TestListensInReadsTheTable(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:5605 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:5606 0100007F:8000 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
`
	for _, c := range []struct {
		port   int
		inodes map[string]bool
		want   bool
	}{
		{0x5605, map[string]bool{"4242": true}, true},
		{0x5605, map[string]bool{"4343": true}, false}, // someone else's listener
		{0x5606, map[string]bool{"4343": true}, false}, // established, not listening
		{0x5607, map[string]bool{"4242": true}, false},
	} {
		if got := listensIn(table, c.port, c.inodes); got != c.want {
			t.Errorf("port %d, inodes %v: %v, want %v", c.port, c.inodes, got, c.want)
		}
	}
}

// TestAFunctionThatCannotListenIsTriedAgainNotReported: a process that
// ends before listening (its port was taken) is the start's to retry; it
// is not a crash of a running function.
func TestAFunctionThatCannotListenIsTriedAgainNotReported(t *testing.T) {
	p := newProcesses("/bin/false", nil, io.Discard)
	defer p.stop()
	if err := p.start("templates", 0); err != nil {
		t.Fatal(err)
	}
	if err := p.waitUp(context.Background(), "templates", 10*time.Second); !errors.Is(err, errExitedEarly) {
		t.Fatalf("waitUp = %v, want errExitedEarly", err)
	}
	select {
	case err := <-p.exited:
		t.Fatalf("an exit before listening was reported as a crash: %v", err)
	default:
	}
}

package bench

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"

	"github.com/templategw/templategw/emulator"
)

// FirestoreAt returns a Firestore client of project that talks to the
// emulator (or a proxy in front of it) at addr, whatever
// FIRESTORE_EMULATOR_HOST says.
func FirestoreAt(ctx context.Context, project, addr string) (*firestore.Client, error) {
	conn, err := emulator.DialFirestore(addr)
	if err != nil {
		return nil, err
	}
	fs, err := firestore.NewClient(ctx, project, option.WithGRPCConn(conn))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("firestore at %s: %w", addr, err)
	}
	return fs, nil
}

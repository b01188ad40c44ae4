package bench

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// emulatorOwner is the credential the Firestore emulator takes from its
// clients (what the client library sends when FIRESTORE_EMULATOR_HOST is
// set): full access, security rules bypassed.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }

// FirestoreAt returns a Firestore client of project that talks to the
// emulator (or a proxy in front of it) at addr, whatever
// FIRESTORE_EMULATOR_HOST says.
func FirestoreAt(ctx context.Context, project, addr string) (*firestore.Client, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
	)
	if err != nil {
		return nil, fmt.Errorf("firestore at %s: %w", addr, err)
	}
	fs, err := firestore.NewClient(ctx, project, option.WithGRPCConn(conn))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("firestore at %s: %w", addr, err)
	}
	return fs, nil
}

package emulator

import (
	"context"
	"fmt"
	"math"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// DialFirestore dials the Firestore emulator (or a proxy in front of it)
// at addr the way the client library does when FIRESTORE_EMULATOR_HOST is
// set: plain text, the emulator's administrator credentials, which bypass
// security rules, and unlimited message sizes. extra adds dial options
// (interceptors); the library would ignore them on a connection it dials
// itself, so a client that needs them passes this connection with
// option.WithGRPCConn, and closing that client closes the connection.
func DialFirestore(addr string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(firestoreOwner{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
	}, extra...)
	conn, err := grpc.NewClient(firestoreTarget(addr), opts...)
	if err != nil {
		return nil, fmt.Errorf("dial the Firestore emulator at %s: %w", addr, err)
	}
	return conn, nil
}

// firestoreTarget names the emulator as the client library does: legacy
// http:// prefixes dropped, and the passthrough resolver, since the
// address is a literal host and port.
func firestoreTarget(addr string) string {
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") || !strings.Contains(addr, "://") {
		addr = strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://")
		return "passthrough:///" + addr
	}
	return addr
}

// firestoreOwner sends the credentials the Firestore emulator takes as its
// administrator.
type firestoreOwner struct{}

func (firestoreOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (firestoreOwner) RequireTransportSecurity() bool { return false }

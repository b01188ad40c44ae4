package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// TestInboundByUserID: a contact Meta names by its business-scoped user id
// alone is stored under a key of that id, with its window and
// conversation; one that comes with both keeps both on its phone's
// document; a replay returns the first message as stored.
func TestInboundByUserID(t *testing.T) {
	s, fs := newStore(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second)
	const userID = "BR.13491208655302741918"
	in := store.Inbound{ID: "wamid.u1", Channel: "main", UserID: userID, ProfileName: "maria.s", Type: "image",
		Media: &domain.InboundMedia{ID: "123", MimeType: "image/jpeg", Caption: "a foto"}, At: at}
	stored, created, err := s.RecordInbound(ctx, "t1", in)
	if err != nil || !created || stored.ConversationID == "" || stored.Media == nil || stored.Media.Caption != "a foto" {
		t.Fatalf("RecordInbound = %+v, %v, %v", stored, created, err)
	}
	again, created, err := s.RecordInbound(ctx, "t1", in)
	if err != nil || created || again.ConversationID != stored.ConversationID || again.ID != in.ID || again.Media == nil || again.Media.ID != "123" {
		t.Fatalf("replay = %+v, %v, %v; want the first as stored", again, created, err)
	}

	key := domain.ContactKey("", userID)
	c, err := s.Contact(ctx, "t1", key)
	if err != nil || c.Phone != "" || c.ProfileName != "maria.s" || !c.WindowOpen("main", at) {
		t.Errorf("user contact %+v (%v)", c, err)
	}
	snap, err := fs.Collection("tenants").Doc("t1").Collection("contacts").Doc(key).Get(ctx)
	if err != nil || snap.Data()["userId"] != userID {
		t.Errorf("user contact document %v (%v)", snap.Data(), err)
	}
	conv, err := s.Conversation(ctx, "t1", "main", key)
	if err != nil || conv.ID != stored.ConversationID || !conv.Open(at) {
		t.Errorf("conversation %+v (%v)", conv, err)
	}

	// With both: the phone's contact keeps the user id too.
	const phone = "5511987650900"
	if _, _, err := s.RecordInbound(ctx, "t1", store.Inbound{ID: "wamid.u2", Channel: "main", Phone: phone, UserID: "BR.2", Type: "text", Text: "oi", At: at}); err != nil {
		t.Fatal(err)
	}
	snap, err = fs.Collection("tenants").Doc("t1").Collection("contacts").Doc(phone).Get(ctx)
	if err != nil || snap.Data()["userId"] != "BR.2" || snap.Data()["phone"] != phone {
		t.Errorf("phone contact document %v (%v)", snap.Data(), err)
	}

	// Neither: nothing to name the contact by.
	if _, _, err := s.RecordInbound(ctx, "t1", store.Inbound{ID: "wamid.u3", Channel: "main", Type: "text", At: at}); err == nil {
		t.Error("an inbound message without phone or user id was stored")
	}
}

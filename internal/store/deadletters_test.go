package store_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/store"
)

func deadLetter(id string, at time.Time) store.DeadLetter {
	return store.DeadLetter{
		ID: id, Kind: store.DeadLetterCallback, EventType: "message.status", MessageID: "m1", Host: "https://hooks.example.com",
		Error: "answered 502 Bad Gateway", Attempts: 10, At: at, ExpireAt: at.AddDate(0, 0, 90),
		Job: []byte(`{"tenant":"t1","url":"https://hooks.example.com/in?key=secret","event":{"id":"` + id + `"}}`),
	}
}

// Dead letters are recorded, read and listed newest first a page at a
// time under their tenant alone, and deleted once replayed.
func TestDeadLetterRecordListDelete(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	// Two share a time: the id orders them.
	ats := []time.Time{now.Add(-3 * time.Minute), now.Add(-2 * time.Minute), now.Add(-time.Minute), now.Add(-time.Minute), now}
	for i, at := range ats {
		if err := s.RecordDeadLetter(ctx, "t1", deadLetter("m"+strconv.Itoa(i)+".3", at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordDeadLetter(ctx, "t2", deadLetter("t2only.1", now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}

	var ids []string
	tok := ""
	for pages := 0; ; pages++ {
		list, next, err := s.DeadLetters(ctx, "t1", 2, tok)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 2 || pages > 3 {
			t.Fatalf("page %d has %d letters", pages, len(list))
		}
		for _, d := range list {
			ids = append(ids, d.ID)
		}
		if next == "" {
			break
		}
		tok = next
	}
	want := []string{"m4.3", "m3.3", "m2.3", "m1.3", "m0.3"}
	if len(ids) != len(want) {
		t.Fatalf("listed %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("listed %v, want %v", ids, want)
		}
	}
	if _, _, err := s.DeadLetters(ctx, "t1", 2, "garbage!"); !errors.Is(err, store.ErrBadPageToken) {
		t.Errorf("a forged page token: %v", err)
	}

	got, err := s.DeadLetter(ctx, "t1", "m4.3")
	w := deadLetter("m4.3", now)
	if err != nil || got.ID != w.ID || got.Host != w.Host || got.Error != w.Error || got.Attempts != w.Attempts ||
		!got.At.Equal(w.At) || !got.ExpireAt.Equal(w.ExpireAt) || string(got.Job) != string(w.Job) || got.MessageID != "m1" {
		t.Fatalf("DeadLetter = %+v, %v", got, err)
	}
	// Another tenant's id is not found under this one, either way.
	if _, err := s.DeadLetter(ctx, "t1", "t2only.1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("t2's letter read under t1: %v", err)
	}
	if _, err := s.DeadLetter(ctx, "t2", "m4.3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("t1's letter read under t2: %v", err)
	}
	if list, _, err := s.DeadLetters(ctx, "t2", 10, ""); err != nil || len(list) != 1 || list[0].ID != "t2only.1" {
		t.Errorf("t2's list: %+v %v", list, err)
	}
	if err := s.DeleteDeadLetter(ctx, "t2", "m4.3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeadLetter(ctx, "t1", "m4.3"); err != nil {
		t.Errorf("a delete under t2 removed t1's letter: %v", err)
	}

	if err := s.DeleteDeadLetter(ctx, "t1", "m4.3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeadLetter(ctx, "t1", "m4.3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted letter still read: %v", err)
	}
	if err := s.DeleteDeadLetter(ctx, "t1", "m4.3"); err != nil {
		t.Errorf("deleting a letter already gone: %v", err)
	}
	if _, err := s.DeadLetter(ctx, "t1", "no/such"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an id Firestore cannot name: %v", err)
	}
	if err := s.RecordDeadLetter(ctx, "t1", deadLetter("a/b", now)); err == nil {
		t.Error("recorded a letter under an id Firestore cannot name")
	}

	// The same event given up on again replaces its letter.
	again := deadLetter("m0.3", now.Add(time.Hour))
	again.Attempts = 20
	if err := s.RecordDeadLetter(ctx, "t1", again); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DeadLetter(ctx, "t1", "m0.3"); err != nil || got.Attempts != 20 {
		t.Errorf("re-recorded letter: %+v %v", got, err)
	}
}

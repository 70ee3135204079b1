package sqlite

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// A Write returns only once an fsync of the log that began after its
// commit has ended, and that fsync runs outside the writer's turn: the
// next batch is committed while it runs.
func TestWriteIsDurableBeforeItReturnsAndTheFsyncOverlapsTheNextCommit(t *testing.T) {
	ctx := context.Background()
	s := openMigrated(t)
	committed := func() uint64 {
		s.wal.mu.Lock()
		defer s.wal.mu.Unlock()
		return s.wal.committed
	}
	entered, release := make(chan uint64, 4), make(chan struct{})
	first := true
	s.wal.sync = func(f *os.File) error {
		entered <- committed() // the commits this fsync covers at most
		if first {
			first = false
			<-release
		}
		return f.Sync()
	}
	before := committed()
	a := make(chan error, 1)
	go func() { a <- s.Write(ctx, oneSignIn("a")) }()
	select {
	case got := <-entered:
		if got != before+1 {
			t.Fatalf("the first fsync began with %d commits, want %d (after a's)", got, before+1)
		}
	case err := <-a:
		t.Fatalf("a returned (%v) without an fsync", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no fsync after a's commit")
	}
	b := make(chan error, 1)
	go func() { b <- s.Write(ctx, oneSignIn("b")) }()
	// b is committed while a's fsync is held.
	deadline := time.After(10 * time.Second)
	for committed() < before+2 {
		select {
		case err := <-a:
			t.Fatalf("a returned (%v) before its fsync ended", err)
		case <-deadline:
			t.Fatal("b was not committed while a's fsync ran: the fsync holds the writer")
		case <-time.After(time.Millisecond):
		}
	}
	select {
	case err := <-a:
		t.Fatalf("a returned (%v) before its fsync ended", err)
	case err := <-b:
		t.Fatalf("b returned (%v) before an fsync that began after its commit", err)
	default:
	}
	close(release)
	if err := <-a; err != nil {
		t.Fatal(err)
	}
	if got := <-entered; got < before+2 {
		t.Fatalf("b's fsync began with %d commits, want at least %d", got, before+2)
	}
	if err := <-b; err != nil {
		t.Fatal(err)
	}
}

// A failed fsync stops the writer: what it could not write may be gone
// from the kernel's cache, so retrying the fsync proves nothing.
func TestAFailedFsyncIsPermanent(t *testing.T) {
	ctx := context.Background()
	s := openMigrated(t)
	s.wal.sync = func(*os.File) error { return errors.New("input/output error") }
	err := s.Write(ctx, oneSignIn("x"))
	if !errors.Is(err, sinks.ErrPermanent) {
		t.Fatalf("write after a failed fsync: %v, want sinks.ErrPermanent", err)
	}
}

// oneSignIn is a batch of one sign-in.
func oneSignIn(id string) *sinks.Batch {
	return &sinks.Batch{SignIns: []sinks.SignInRecord{{SignIn: schemas.SignIn{ID: id, UserID: "u1",
		CreatedDateTime: time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC), Category: schemas.CategoryInteractive}}}}
}

// Once the log passes its limit, a checkpoint's last pass runs under the
// writer's lock and copies what its first pass could not (here, the
// frames a reader's snapshot held back; under load, what the writer
// committed meanwhile): the writer's next transaction finds the log
// copied whole, which is what lets it start the log over. A writer that
// never pauses would otherwise never find it so.
func TestACheckpointPastTheLimitLetsTheWriterStartTheLogOver(t *testing.T) {
	ctx := context.Background()
	s := openMigrated(t)
	s.ck.cancel() // the test runs the checkpoints
	<-s.ck.done
	s.ck.limit = 1
	write := func(id string) {
		if err := s.Write(ctx, oneSignIn(id)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		write(id)
	}
	reader, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback() //nolint:errcheck // ended below, unless the test fails first
	var n int
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM signins").Scan(&n); err != nil {
		t.Fatal(err)
	}
	write("e") // newer than the reader's snapshot: the first pass cannot copy it
	s.ck.afterPass = func() { _ = reader.Rollback() }
	before := s.checkpoint(ctx)
	s.ck.afterPass = nil
	write("f")
	if after := s.checkpoint(ctx); after >= before {
		t.Fatalf("the log went from %d frames to %d: it did not start over", before, after)
	}
}

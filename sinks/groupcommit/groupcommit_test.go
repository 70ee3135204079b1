package groupcommit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/groupcommit"
)

var errRefused = errors.New("a row refused")

// store records what each write call received; a batch with a flag is
// refused (the rows' fault), one with a finding fails the store as a
// whole.
type store struct {
	mu     sync.Mutex
	calls  [][]*sinks.Batch
	inside chan struct{} // closed by the first call, which then waits for release
	hold   chan struct{}
}

func (s *store) write(_ context.Context, batches []*sinks.Batch) (bool, error) {
	s.mu.Lock()
	s.calls = append(s.calls, batches)
	first := len(s.calls) == 1
	s.mu.Unlock()
	if first && s.hold != nil {
		close(s.inside)
		<-s.hold
	}
	for _, b := range batches {
		if len(b.Findings) > 0 {
			return false, errors.New("store down")
		}
		if len(b.Flags) > 0 {
			return true, errRefused
		}
	}
	return false, nil
}

// writeWhileHeld starts a first write that blocks inside the store, then
// the given batches, which queue behind it, and releases the first.
func writeWhileHeld(t *testing.T, batches []*sinks.Batch) (*store, []error) {
	t.Helper()
	s := &store{inside: make(chan struct{}), hold: make(chan struct{})}
	var g groupcommit.Group[*sinks.Batch]
	first := make(chan error, 1)
	go func() { first <- g.Write(context.Background(), &sinks.Batch{}, s.write) }()
	<-s.inside
	errs := make([]error, len(batches))
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.Write(context.Background(), b, s.write)
		}()
	}
	// Once all are queued behind the first, let it finish: they are
	// then one group.
	for deadline := time.Now().Add(10 * time.Second); g.QueuedForTest() < len(batches); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d batches queued", g.QueuedForTest(), len(batches))
		}
	}
	close(s.hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return s, errs
}

func TestBatchesThatMeetAreWrittenTogether(t *testing.T) {
	batches := []*sinks.Batch{{}, {}, {}}
	s, errs := writeWhileHeld(t, batches)
	for i, err := range errs {
		if err != nil {
			t.Errorf("batch %d: %v", i, err)
		}
	}
	if len(s.calls) != 2 || len(s.calls[1]) != 3 {
		t.Errorf("%d calls, want the first and one of the 3 queued batches", len(s.calls))
	}
}

func TestARefusedBatchFailsAloneAndTheOthersAreStored(t *testing.T) {
	bad := &sinks.Batch{Flags: make([]schemas.Flag, 1)}
	batches := []*sinks.Batch{{}, bad, {}}
	s, errs := writeWhileHeld(t, batches)
	if len(s.calls) != 5 { // the first, the group, then each batch alone
		t.Errorf("%d calls, want 5", len(s.calls))
	}
	for i, err := range errs {
		if batches[i] == bad {
			if !errors.Is(err, errRefused) {
				t.Errorf("refused batch: %v, want its refusal", err)
			}
		} else if err != nil {
			t.Errorf("batch %d: %v, want stored", i, err)
		}
	}
}

func TestAStoreFailureIsEveryonesError(t *testing.T) {
	batches := []*sinks.Batch{{}, {Findings: make([]schemas.Finding, 1)}}
	s, errs := writeWhileHeld(t, batches)
	for i, err := range errs {
		if err == nil || err.Error() != "store down" {
			t.Errorf("batch %d: %v, want the store's error", i, err)
		}
	}
	if len(s.calls) != 2 {
		t.Errorf("%d calls, want the first and the group's, not retried batch by batch", len(s.calls))
	}
}

// A caller that gives up while queued (a shutdown) leaves the queue at
// once, and its batch is not written after it returned.
func TestACallerThatGivesUpWhileQueuedLeaves(t *testing.T) {
	s := &store{inside: make(chan struct{}), hold: make(chan struct{})}
	var g groupcommit.Group[*sinks.Batch]
	first := make(chan error, 1)
	go func() { first <- g.Write(context.Background(), &sinks.Batch{}, s.write) }()
	<-s.inside
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := &sinks.Batch{}
	queued := make(chan error, 1)
	go func() { queued <- g.Write(ctx, gaveUp, s.write) }()
	for deadline := time.Now().Add(10 * time.Second); g.QueuedForTest() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the batch was never queued")
		}
	}
	cancel()
	select {
	case err := <-queued:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("gave up with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a queued caller whose context ended is still waiting")
	}
	close(s.hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if g.QueuedForTest() != 0 || len(s.calls) != 1 {
		t.Errorf("%d queued and %d calls after the first, want the batch gone and never written", g.QueuedForTest(), len(s.calls)-1)
	}
}

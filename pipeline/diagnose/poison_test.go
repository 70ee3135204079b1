package diagnose

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/poison"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// rejectingStore refuses any batch holding a sign-in dated after 2106, as
// the ClickHouse writer does.
type rejectingStore struct{ fakeStore }

func (s *rejectingStore) Write(ctx context.Context, b *sinks.Batch) error {
	for _, r := range b.SignIns {
		if r.SignIn.CreatedDateTime.Year() > 2106 {
			return fmt.Errorf("%w: sign-in %s: created_at out of range", sinks.ErrRejected, r.SignIn.ID)
		}
	}
	return s.fakeStore.Write(ctx, b)
}

type producer struct{ msgs []kafka.Message }

func (p *producer) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	p.msgs = append(p.msgs, msgs...)
	return nil
}

// A sign-in storage refuses is dead-lettered with its finding and flag,
// and the rest of the batch is stored: the flush succeeds, so the loop
// commits.
func TestARejectedSignInIsDeadLetteredWithItsRowsAndTheRestStored(t *testing.T) {
	store, prod := &rejectingStore{}, &producer{}
	cat := catalog.Default()
	p := NewProcessor(Config{Window: 48 * time.Hour, AllowedLateness: 48 * time.Hour, Detections: rules.Detections(nil),
		Now: func() time.Time { return t0 }, Poison: poison.Config{Topic: "storage-dl", Producer: prod}},
		2, store, rules.NewEngine(rules.Config{}, cat), cat, noCounters{})
	ctx := context.Background()
	future := failure("future", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	future.FlaggedForReview = true
	signIns := []*schemas.SignIn{failure("a", t0), failure("b", t0.Add(time.Second)), future, failure("c", t0.Add(2*time.Second))}
	for i, si := range signIns {
		rec := event(t, schemas.Event{SignIn: si}, int64(10+i))
		rec.Topic, rec.Partition = "keyed", 2
		if err := p.Process(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	var stored []string
	for _, b := range store.batches {
		for _, r := range b.SignIns {
			stored = append(stored, r.SignIn.ID)
		}
		for _, f := range b.Findings {
			if f.SignInID == "future" {
				t.Errorf("the rejected sign-in's finding was stored")
			}
		}
		if len(b.Flags) != 0 {
			t.Errorf("the rejected sign-in's flag was stored: %+v", b.Flags)
		}
	}
	slices.Sort(stored)
	if fmt.Sprint(stored) != "[a b c]" {
		t.Fatalf("stored %v, want [a b c]", stored)
	}
	if len(prod.msgs) != 1 || deadletter.Header(prod.msgs[0], deadletter.HeaderSourceOffset) != "12" ||
		deadletter.Header(prod.msgs[0], deadletter.HeaderSourceTopic) != "keyed" || deadletter.Header(prod.msgs[0], deadletter.HeaderReason) != poison.Reason {
		t.Fatalf("dead letters: %+v", prod.msgs)
	}
	// The next batch starts clean: nothing of this one is split again.
	if err := p.Process(ctx, event(t, schemas.Event{SignIn: failure("d", t0.Add(3*time.Second))}, 14)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil || len(prod.msgs) != 1 {
		t.Fatalf("second flush: %v, %d dead letters", err, len(prod.msgs))
	}
}

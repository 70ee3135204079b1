package spray

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/poison"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/sinks"
)

type rejectingStore struct{ fakeStore }

func (s *rejectingStore) Write(ctx context.Context, b *sinks.Batch) error {
	for _, r := range b.IPFailures {
		if r.At.Year() > 2106 {
			return fmt.Errorf("%w: IP failure %s: created_at out of range", sinks.ErrRejected, r.Identity)
		}
	}
	return s.fakeStore.Write(ctx, b)
}

type producer struct{ msgs []kafka.Message }

func (p *producer) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func TestARejectedIPFailureIsDeadLetteredAndTheRestStored(t *testing.T) {
	store, prod := &rejectingStore{}, &producer{}
	p := NewProcessor(Config{Detections: rules.Detections(nil), AllowedLateness: time.Hour, Now: func() time.Time { return t0 },
		Poison: poison.Config{Topic: "storage-dl", Producer: prod}}, 1, store, &counters{})
	ctx := context.Background()
	for i, at := range []time.Time{t0, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), t0.Add(time.Minute)} {
		if err := p.Process(ctx, failure(t, 20+i, fmt.Sprint("user", i), at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	var offsets []int64
	for _, b := range store.batches {
		for _, r := range b.IPFailures {
			offsets = append(offsets, r.Offset)
		}
	}
	if fmt.Sprint(offsets) != "[20 22]" {
		t.Fatalf("stored offsets %v, want [20 22]", offsets)
	}
	if len(prod.msgs) != 1 || deadletter.Header(prod.msgs[0], deadletter.HeaderSourceOffset) != "21" {
		t.Fatalf("dead letters: %+v", prod.msgs)
	}
}

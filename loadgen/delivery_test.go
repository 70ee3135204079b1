package loadgen

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

// TestSameSeedSameBytes: two generators of one Config give the same
// stream; another seed gives another.
func TestSameSeedSameBytes(t *testing.T) {
	cfg := testConfig(ShapeMixed)
	cfg.FlagRate = 0.01
	a, _ := New(cfg)
	b, _ := New(cfg)
	cfg.Seed++
	c, _ := New(cfg)
	differs := false
	for i := 0; ; i++ {
		ma, oka := a.Next()
		mb, okb := b.Next()
		mc, _ := c.Next()
		if oka != okb {
			t.Fatalf("message %d: one stream ended, the other not", i)
		}
		if !oka {
			break
		}
		if ma.Topic != mb.Topic || ma.Duplicate != mb.Duplicate || !bytes.Equal(ma.Value, mb.Value) || !slices.Equal(ma.SignInIDs, mb.SignInIDs) {
			t.Fatalf("message %d differs between two generators of seed %d", i, cfg.Seed-1)
		}
		differs = differs || !bytes.Equal(ma.Value, mc.Value)
	}
	if !differs {
		t.Error("seeds 1 and 2 gave the same stream")
	}
	if a.Stats() != b.Stats() {
		t.Errorf("stats differ: %+v, %+v", a.Stats(), b.Stats())
	}
}

// TestDuplicatesAtTheConfiguredRate: each duplicate repeats a message sent
// shortly before, and they make up DuplicateRate of the messages.
func TestDuplicatesAtTheConfiguredRate(t *testing.T) {
	cfg := testConfig(ShapeGraph)
	cfg.DuplicateRate = 0.05
	ds, stats := drain(t, cfg)
	firstAt := map[string]int{}
	dups := 0
	for i, d := range ds {
		if d.msg.Topic != TopicSignIns {
			continue
		}
		key := string(d.msg.Value)
		if !d.msg.Duplicate {
			firstAt[key] = i
			continue
		}
		dups++
		at, ok := firstAt[key]
		if !ok || i-at > 25 {
			t.Fatalf("duplicate %d repeats message %d (found %v)", i, at, ok)
		}
	}
	rate := float64(dups) / float64(cfg.Count)
	if rate < 0.04 || rate > 0.06 || dups != stats.Duplicates {
		t.Errorf("%d duplicates (stats %d) in %d messages: %.3f, want about %.2f", dups, stats.Duplicates, cfg.Count, rate, cfg.DuplicateRate)
	}
}

// TestLateDeliveryAtTheConfiguredRate: LateFraction of the sign-ins come
// after sign-ins younger than they are, by minutes to hours; without late
// delivery the stream is in event-time order.
func TestLateDeliveryAtTheConfiguredRate(t *testing.T) {
	for _, late := range []float64{0, 0.05} {
		cfg := testConfig(ShapeEventHubs)
		cfg.LateFraction = late
		cfg.MaxLateness = 90 * time.Minute
		ds, _ := drain(t, cfg)
		var newest time.Time
		lateCount := 0
		var worst time.Duration
		// Past this, held-back sign-ins are flushed at the stream's end
		// before their delay is over.
		flushed := cfg.Start.Add(cfg.Span - cfg.MaxLateness)
		for _, si := range firstSendings(ds) {
			if behind := newest.Sub(si.CreatedDateTime); behind > 0 {
				if behind < 30*time.Second && si.CreatedDateTime.Before(flushed) {
					t.Errorf("late by %v: less than the shortest delay", behind)
				}
				lateCount++
				worst = max(worst, behind)
			}
			newest = maxTime(newest, si.CreatedDateTime)
		}
		got := float64(lateCount) / float64(cfg.Count)
		t.Logf("late fraction %v: %.4f of the sign-ins late, the latest by %v", late, got, worst)
		if got < late*0.8 || got > late*1.2 {
			t.Errorf("late fraction %v: %.4f of the sign-ins came late", late, got)
		}
		if late > 0 && (worst < 30*time.Minute || worst > cfg.MaxLateness) {
			t.Errorf("latest delivery %v behind, want up to %v", worst, cfg.MaxLateness)
		}
	}
}

// TestEndlessStreamKeepsGoing: Count 0 never ends and keeps its density.
func TestEndlessStreamKeepsGoing(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Shape = ShapeEventHubs
	cfg.Span = time.Hour
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for g.Stats().SignIns < 50_000 {
		if _, ok := g.Next(); !ok {
			t.Fatalf("endless stream ended after %d sign-ins", g.Stats().SignIns)
		}
	}
}

package window

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

func TestCountsAreExactAtWindowBoundaries(t *testing.T) {
	w := New(48*time.Hour, 48*time.Hour)
	w.ObserveFailure("u", "a", t0)
	w.ObserveFailure("u", "b", t0.Add(time.Hour))

	cases := []struct {
		at   time.Time
		want int
	}{
		{t0.Add(-time.Millisecond), 0},
		{t0, 1},
		{t0.Add(time.Hour), 2},
		{t0.Add(48*time.Hour - time.Millisecond), 2},
		{t0.Add(48 * time.Hour), 1}, // (t-48h, t] excludes the failure at exactly t-48h
		{t0.Add(49 * time.Hour), 0},
	}
	for _, c := range cases {
		if got := w.Count("u", c.at); got != c.want {
			t.Errorf("Count at %s = %d, want %d", c.at.Sub(t0), got, c.want)
		}
	}
	if got := w.Count("other", t0.Add(time.Hour)); got != 0 {
		t.Errorf("other user's count = %d, want 0", got)
	}
}

func TestObserveReturnsCountsBeforeAndAfter(t *testing.T) {
	w := New(48*time.Hour, 48*time.Hour)
	for i := range 3 {
		c := w.ObserveFailure("u", fmt.Sprint(i), t0.Add(time.Duration(i)*time.Minute))
		if c.Before != i || c.After != i+1 || c.Late {
			t.Fatalf("event %d: got %+v, want before %d after %d", i, c, i, i+1)
		}
	}
}

func TestDuplicateSignInCountsOnce(t *testing.T) {
	w := New(48*time.Hour, 48*time.Hour)
	w.ObserveFailure("u", "same", t0)
	c := w.ObserveFailure("u", "same", t0)
	if c.Before != 1 || c.After != 1 {
		t.Fatalf("duplicate at the same time: %+v, want 1/1", c)
	}
	// Re-emitted with another time: still the same sign-in.
	c = w.ObserveFailure("u", "same", t0.Add(time.Second))
	if c.After != 1 {
		t.Fatalf("duplicate at another time: %+v, want after 1", c)
	}
}

func TestOutOfOrderEventsGiveTheSameCountsAsInOrder(t *testing.T) {
	times := []time.Duration{5 * time.Hour, time.Hour, 30 * time.Hour, 2 * time.Hour, 50 * time.Hour, 0}
	w := New(48*time.Hour, 48*time.Hour)
	for i, d := range times {
		w.ObserveFailure("u", fmt.Sprint(i), t0.Add(d))
	}
	inOrder := New(48*time.Hour, 48*time.Hour)
	for i, d := range []time.Duration{0, time.Hour, 2 * time.Hour, 5 * time.Hour, 30 * time.Hour, 50 * time.Hour} {
		inOrder.ObserveFailure("u", fmt.Sprint("o", i), t0.Add(d))
	}
	for h := range 100 {
		at := t0.Add(time.Duration(h) * time.Hour)
		if a, b := w.Count("u", at), inOrder.Count("u", at); a != b {
			t.Errorf("at +%dh: out of order %d, in order %d", h, a, b)
		}
	}
}

func TestLateEventsBeyondAllowedLatenessAreNotCounted(t *testing.T) {
	w := New(48*time.Hour, time.Hour)
	w.ObserveFailure("u", "new", t0.Add(100*time.Hour))
	c := w.ObserveFailure("u", "old", t0) // 100h behind the watermark > 48h + 1h
	if !c.Late || c.After != c.Before {
		t.Fatalf("late event: %+v, want Late and not added", c)
	}
	c = w.ObserveFailure("u", "recent-late", t0.Add(52*time.Hour)) // 48h behind: within lateness
	if c.Late || c.After != 1 {
		t.Fatalf("event within lateness: %+v, want added", c)
	}
}

func TestEvictDropsOnlyWhatNoLiveCountNeeds(t *testing.T) {
	w := New(48*time.Hour, 0)
	w.ObserveFailure("old", "a", t0)
	w.ObserveFailure("both", "b", t0)
	w.ObserveFailure("both", "c", t0.Add(47*time.Hour))
	w.ObserveFailure("new", "d", t0.Add(49*time.Hour)) // watermark: horizon = t0+1h
	if n := w.Evict(); n != 2 {
		t.Fatalf("evicted %d, want 2", n)
	}
	if w.Keys() != 2 {
		t.Fatalf("keys after eviction = %d, want 2", w.Keys())
	}
	if got := w.Count("both", t0.Add(49*time.Hour)); got != 1 {
		t.Fatalf("count after eviction = %d, want 1", got)
	}
}

func BenchmarkObserveFailure(b *testing.B) {
	ids := make([]string, 1<<12)
	for i := range ids {
		ids[i] = fmt.Sprintf("id-%d", i)
	}
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
	}
	w := New(48*time.Hour, 48*time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		w.ObserveFailure(users[i%len(users)], ids[i%len(ids)], t0.Add(time.Duration(i)*time.Second))
		if i%100000 == 0 {
			w.Evict()
		}
	}
}

func TestCompleteUntilTheWindowCanHaveBeenEvicted(t *testing.T) {
	w := New(48*time.Hour, 2*time.Hour)
	w.ObserveFailure("u", "a", t0.Add(100*time.Hour)) // watermark
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{t0.Add(100 * time.Hour), true},
		{t0.Add(98 * time.Hour), true}, // exactly the allowed lateness
		{t0.Add(98*time.Hour - time.Millisecond), false},
		{t0.Add(50 * time.Hour), false},
	} {
		if got := w.Complete(c.at); got != c.want {
			t.Errorf("Complete(%s) = %v, want %v", c.at.Sub(t0), got, c.want)
		}
	}
}

func TestTheKeyBudgetRefusesNewKeysUntilEvictionReturnsThem(t *testing.T) {
	b := NewBudget(2)
	w1 := New(48*time.Hour, 0).WithBudget(b)
	w2 := New(48*time.Hour, 0).WithBudget(b) // another partition of the process
	w1.ObserveFailure("a", "1", t0)
	w2.ObserveFailure("b", "2", t0)
	if c := w1.ObserveFailure("a", "3", t0.Add(time.Minute)); c.Refused || c.After != 2 {
		t.Fatalf("a known key: %+v, want counted", c)
	}
	if c := w2.ObserveFailure("c", "4", t0.Add(time.Minute)); !c.Refused || c.After != 0 {
		t.Fatalf("a third key over a budget of 2: %+v, want refused", c)
	}
	if b.Used() != 2 || b.Refused() != 1 {
		t.Fatalf("used %d refused %d, want 2 and 1", b.Used(), b.Refused())
	}
	// b's first failure is evicted, its newer one keeps the key.
	w2.ObserveFailure("b", "5", t0.Add(50*time.Hour)) // known key, moves the watermark
	w2.Evict()
	if b.Used() != 2 {
		t.Fatalf("used %d after eviction kept b's newer failure, want 2", b.Used())
	}
	w1.Release() // w1's partition is revoked
	if b.Used() != 1 {
		t.Fatalf("used %d after release, want 1", b.Used())
	}
	if c := w2.ObserveFailure("c", "6", t0.Add(50*time.Hour)); c.Refused || c.After != 1 {
		t.Fatalf("c after keys came back: %+v, want counted", c)
	}
}

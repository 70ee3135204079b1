package window

import (
	"fmt"
	"testing"
	"time"
)

func TestDistinctCountsMembersNotEvents(t *testing.T) {
	d := NewDistinct(20*time.Minute, 20*time.Minute)
	ip := "198.51.100.7"
	steps := []struct {
		user, id string
		at       time.Duration
		before   int
		after    int
	}{
		{"a", "1", 0, 0, 1},
		{"a", "2", time.Minute, 1, 1}, // same user again
		{"b", "3", 2 * time.Minute, 1, 2},
		{"b", "3", 2 * time.Minute, 2, 2},  // the same sign-in again
		{"c", "4", 21 * time.Minute, 1, 2}, // a's sign-ins left the window; b's (+2m) remains
		{"d", "5", 22*time.Minute + time.Millisecond, 1, 2},
	}
	for i, s := range steps {
		c := d.Observe(ip, s.user, s.id, t0.Add(s.at))
		if c.Before != s.before || c.After != s.after {
			t.Errorf("step %d (%s at %s): %+v, want %d → %d", i, s.user, s.at, c, s.before, s.after)
		}
	}
	if got := d.Count("other", t0); got != 0 {
		t.Errorf("other key: %d", got)
	}
}

func TestDistinctOutOfOrderMatchesInOrder(t *testing.T) {
	type ev struct {
		user string
		at   time.Duration
	}
	evs := []ev{{"a", 5 * time.Minute}, {"b", time.Minute}, {"c", 30 * time.Minute}, {"a", 12 * time.Minute}, {"d", 0}, {"e", 25 * time.Minute}}
	shuffled, ordered := NewDistinct(20*time.Minute, time.Hour), NewDistinct(20*time.Minute, time.Hour)
	for i, e := range evs {
		shuffled.Observe("ip", e.user, fmt.Sprint(i), t0.Add(e.at))
	}
	for i, j := range []int{4, 1, 0, 3, 5, 2} {
		ordered.Observe("ip", evs[j].user, fmt.Sprint("o", i), t0.Add(evs[j].at))
	}
	for m := range 60 {
		at := t0.Add(time.Duration(m) * time.Minute)
		if a, b := shuffled.Count("ip", at), ordered.Count("ip", at); a != b {
			t.Errorf("+%dm: %d vs %d", m, a, b)
		}
	}
	ordered.Observe("ip", "z", "late-trigger", t0.Add(3*time.Hour))
	if n := ordered.Evict(); n != len(evs) {
		t.Errorf("evicted %d, want %d", n, len(evs))
	}
}

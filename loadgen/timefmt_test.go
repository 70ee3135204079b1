package loadgen

import (
	"testing"
	"time"
)

// TestAppendTimeMatchesTheStandardLibrary over leap days, the epoch, the
// years before it and random instants.
func TestAppendTimeMatchesTheStandardLibrary(t *testing.T) {
	times := []time.Time{
		time.Unix(0, 0), time.Unix(-1, 999_999_900), time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2000, 3, 1, 0, 0, 0, 100, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2100, 2, 28, 12, 0, 0, 0, time.UTC),
	}
	r := newRNG(42, 0)
	for range 10_000 {
		times = append(times, time.Unix(0, int64(r.next()>>2)%(4e18)))
	}
	for _, tm := range times {
		want := tm.UTC().Truncate(100 * time.Nanosecond).Format("2006-01-02T15:04:05.0000000Z")
		if got := string(appendTime(nil, tm.UnixNano())); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

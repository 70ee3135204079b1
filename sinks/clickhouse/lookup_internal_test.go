package clickhouse

import (
	"strings"
	"testing"
	"time"
)

func TestCutoffReadsBackUntilTheHoursHoldEnoughRows(t *testing.T) {
	h := func(n int) time.Time { return time.Date(2025, 3, 4, n, 0, 0, 0, time.UTC) }
	from := h(0).Add(30 * time.Minute)
	hours := []userHour{{h(9), 40}, {h(8), 30}, {h(5), 50}, {h(1), 10}, {h(0), 7}} // newest first
	cases := []struct {
		upper time.Time
		need  int
		want  time.Time
	}{
		{h(9).Add(20 * time.Minute), 30, h(9)}, // the hour upper lies in counts
		{h(9).Add(20 * time.Minute), 60, h(8)},
		{h(9).Add(20 * time.Minute), 100, h(5)},
		{h(8), 10, h(5)},                         // a boundary: hour 8 starts at upper, so not before it
		{h(9).Add(20 * time.Minute), 1000, from}, // never enough: everything from `from`
		{h(1).Add(time.Minute), 5, h(1)},         // the hour upper lies in
		{h(0).Add(50 * time.Minute), 5, from},    // nothing counted before upper: from
	}
	for _, c := range cases {
		if got := cutoff(hours, c.upper, c.need, from); !got.Equal(c.want) {
			t.Errorf("cutoff(upper %s, need %d) = %s, want %s", c.upper.Format("15:04"), c.need, got.Format("15:04"), c.want.Format("15:04"))
		}
	}
}

func TestRefRangesJoinNearbyTimesOfOneUser(t *testing.T) {
	at := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	refs := []docRef{
		{userKey: "b", from: at, to: at, id: "b1"},
		{userKey: "a", from: at.Add(5 * time.Minute), to: at.Add(5 * time.Minute), id: "a2"},
		{userKey: "a", from: at, to: at, id: "a1"},
		{userKey: "a", from: at.Add(3 * time.Hour), to: at.Add(3 * time.Hour), id: "a3"},
	}
	query, args := refRanges("doc", "db.signin_docs", refs, 10*time.Minute)
	if n := strings.Count(query, "SELECT doc FROM db.signin_docs PREWHERE"); n != 3 {
		t.Fatalf("%d selects, want 3 (a1+a2, a3, b1): %s", n, query)
	}
	if len(args) != 12 || args[0] != "a" || !args[1].(time.Time).Equal(at) || !args[2].(time.Time).Equal(at.Add(5*time.Minute)) {
		t.Fatalf("first range args = %v, want a from 09:00 to 09:05", args[:4])
	}
}

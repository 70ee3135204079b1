package incident

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/window"
)

var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

// ev is one delivery: key, sign-in id, member, event time.
type ev struct {
	key, id, member string
	at              time.Time
}

// store applies a tracker's results as the incidents table does: the
// latest state per id, superseded ids hidden.
type store map[string]Incident

func (s store) apply(r Result) {
	for _, sup := range r.Superseded {
		delete(s, sup.ID)
	}
	for _, in := range r.Updates {
		s[in.ID] = in
	}
}

func (s store) sorted() []Incident {
	out := make([]Incident, 0, len(s))
	for _, in := range s {
		out = append(out, in)
	}
	sortIncidents(out)
	return out
}

func sortIncidents(s []Incident) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Key != s[j].Key {
			return s[i].Key < s[j].Key
		}
		return s[i].Start.Before(s[j].Start)
	})
}

// run delivers the events in order, evicting every evictEvery deliveries
// (0: never), with the wall clock at wall.
func run(cfg Config, events []ev, wall time.Time, evictEvery int) (store, []bool) {
	tr := New(cfg)
	s := store{}
	accepted := make([]bool, len(events))
	for i, e := range events {
		r := tr.Observe(e.key, e.id, e.member, e.at, wall)
		accepted[i] = !r.Late
		s.apply(r)
		if evictEvery > 0 && i%evictEvery == evictEvery-1 {
			tr.Evict()
		}
	}
	return s, accepted
}

// oracle computes the incidents of a set of events by brute force, from
// the definition in the package doc: the count at every point where it can
// change, maximal runs at or above the threshold, members in
// (start−W, end).
func oracle(cfg Config, events []ev) []Incident {
	type item struct {
		id, member string
		at         int64
	}
	byKey := map[string][]item{}
	seen := map[string]bool{}
	for _, e := range events {
		k := fmt.Sprint(e.key, "\x00", e.id, "\x00", e.at.UnixMilli())
		if seen[k] {
			continue
		}
		seen[k] = true
		byKey[e.key] = append(byKey[e.key], item{e.id, e.member, e.at.UnixMilli()})
	}
	w := cfg.Window.Milliseconds()
	out := []Incident{}
	for key, items := range byKey {
		var points []int64
		for _, it := range items {
			points = append(points, it.at, it.at+w)
		}
		slices.Sort(points)
		points = slices.Compact(points)
		count := func(x int64) int {
			m := map[string]bool{}
			for _, it := range items {
				if it.at > x-w && it.at <= x {
					m[it.member] = true
				}
			}
			return len(m)
		}
		for i := 0; i < len(points); i++ {
			if count(points[i]) < cfg.Threshold {
				continue
			}
			start := points[i]
			for i < len(points) && count(points[i]) >= cfg.Threshold {
				i++
			}
			end := points[i] // the count drops at the last point, an event time + W
			in := Incident{Detection: cfg.Detection, Key: key, Start: time.UnixMilli(start).UTC(),
				ID: IncidentID(cfg.Detection, key, time.UnixMilli(start))}
			first, last := int64(1<<62), int64(-1<<62)
			for _, it := range items {
				if it.at > start-w && it.at < end {
					in.Count++
					first, last = min(first, it.at), max(last, it.at)
				}
			}
			in.First, in.Last = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
			out = append(out, in)
		}
	}
	sortIncidents(out)
	return out
}

// membership maps each sign-in to the incidents the read-time rule gives
// it: same key, first ≤ at ≤ last.
func membership(incidents []Incident, events []ev) map[string][]string {
	out := map[string][]string{}
	for _, e := range events {
		k := e.key + "/" + e.id
		for _, in := range incidents {
			if in.Key == e.key && !e.at.Before(in.First) && !e.at.After(in.Last) && !slices.Contains(out[k], in.ID) {
				out[k] = append(out[k], in.ID)
			}
		}
		slices.Sort(out[k])
	}
	return out
}

// oracleMembership is the definition: events in (start−W, end) of an
// episode, computed again by brute force.
func oracleMembers(cfg Config, events []ev) map[string][]string {
	return membership(oracle(cfg, events), events)
}

// randomStream makes n events of a few keys over an hour, with members
// from a small pool (distinct counting) or the sign-in itself, and some
// duplicates.
func randomStream(rng *rand.Rand, n int, distinct bool) []ev {
	var out []ev
	for i := range n {
		id := fmt.Sprint("s", i)
		member := id
		if distinct {
			member = fmt.Sprint("u", rng.IntN(5))
		}
		e := ev{key: fmt.Sprint("k", rng.IntN(2)), id: id, member: member,
			at: t0.Add(time.Duration(rng.IntN(60)) * time.Minute)}
		out = append(out, e)
		if rng.IntN(5) == 0 {
			out = append(out, e) // duplicate
		}
	}
	return out
}

func configs() []Config {
	return []Config{
		{Detection: "count", Window: 10 * time.Minute, Threshold: 3, AllowedLateness: 24 * time.Hour},
		{Detection: "count2", Window: 7 * time.Minute, Threshold: 2, AllowedLateness: 24 * time.Hour},
		{Detection: "count1", Window: 3 * time.Minute, Threshold: 1, AllowedLateness: 24 * time.Hour},
		{Detection: "count6", Window: 30 * time.Minute, Threshold: 6, AllowedLateness: 24 * time.Hour},
		{Detection: "distinct", Window: 10 * time.Minute, Threshold: 3, AllowedLateness: 24 * time.Hour, Distinct: true},
		{Detection: "distinct-wide", Window: 25 * time.Minute, Threshold: 2, AllowedLateness: 24 * time.Hour, Distinct: true},
	}
}

// TestMatchesOracleInAnyOrder: random streams, shuffled many times and
// evicted at random points, give exactly the brute-force incidents and
// per-sign-in membership.
func TestMatchesOracleInAnyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	wall := t0.Add(2 * time.Hour)
	for round := range 300 {
		for _, cfg := range configs() {
			events := randomStream(rng, 5+rng.IntN(25), cfg.Distinct)
			want := oracle(cfg, events)
			wantMembers := oracleMembers(cfg, events)
			for shuffle := range 8 {
				rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
				s, _ := run(cfg, events, wall, rng.IntN(4))
				got := s.sorted()
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("round %d, %s, shuffle %d:\n got %v\nwant %v\nevents %v", round, cfg.Detection, shuffle, got, want, events)
				}
				if m := membership(got, events); !reflect.DeepEqual(m, wantMembers) {
					t.Fatalf("round %d, %s: membership %v, want %v", round, cfg.Detection, m, wantMembers)
				}
			}
		}
	}
}

// TestEveryPermutation delivers small sets in every order.
func TestEveryPermutation(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	wall := t0.Add(2 * time.Hour)
	for round := range 20 {
		for _, cfg := range configs() {
			events := randomStream(rng, 6, cfg.Distinct)[:6]
			want := oracle(cfg, events)
			permute(events, 0, func(p []ev) {
				s, _ := run(cfg, p, wall, 0)
				if got := s.sorted(); !reflect.DeepEqual(got, want) {
					t.Fatalf("round %d, %s, order %v:\n got %v\nwant %v", round, cfg.Detection, p, got, want)
				}
			})
		}
	}
}

func permute(s []ev, i int, f func([]ev)) {
	if i == len(s) {
		f(s)
		return
	}
	for j := i; j < len(s); j++ {
		s[i], s[j] = s[j], s[i]
		permute(s, i+1, f)
		s[i], s[j] = s[j], s[i]
	}
}

// TestLateBeyondLatenessMatchesOracleOfAccepted: with a short allowed
// lateness some events are dropped; the incidents are the oracle's over
// the events that were accepted, and an event is refused exactly when it
// is at or before watermark − W − lateness.
func TestLateBeyondLatenessMatchesOracleOfAccepted(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	wall := t0.Add(2 * time.Hour)
	lates := 0
	for round := range 300 {
		for _, cfg := range configs() {
			cfg.AllowedLateness = time.Duration(rng.IntN(20)) * time.Minute
			events := randomStream(rng, 5+rng.IntN(25), cfg.Distinct)
			s, accepted := run(cfg, events, wall, rng.IntN(4))
			var kept []ev
			wm := int64(-1 << 62)
			for i, e := range events {
				wm = max(wm, e.at.UnixMilli())
				late := e.at.UnixMilli() <= wm-cfg.Window.Milliseconds()-cfg.AllowedLateness.Milliseconds()
				if late == accepted[i] {
					t.Fatalf("round %d: event %d late=%v, tracker accepted=%v", round, i, late, accepted[i])
				}
				if accepted[i] {
					kept = append(kept, e)
				} else {
					lates++
				}
			}
			if got, want := s.sorted(), oracle(cfg, kept); !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, %s:\n got %v\nwant %v", round, cfg.Detection, got, want)
			}
		}
	}
	if lates == 0 {
		t.Fatal("no event was late: the test did not exercise lateness")
	}
}

// TestLateEventRaisesEarlierIncident: the event that completes an earlier
// window arrives last and raises the incident then.
func TestLateEventRaisesEarlierIncident(t *testing.T) {
	cfg := Config{Detection: "d", Window: 10 * time.Minute, Threshold: 3, AllowedLateness: time.Hour}
	tr := New(cfg)
	wall := t0.Add(time.Hour)
	for _, m := range []int{0, 9, 30} {
		if r := tr.Observe("u", fmt.Sprint(m), fmt.Sprint(m), t0.Add(time.Duration(m)*time.Minute), wall); len(r.Updates) != 0 {
			t.Fatalf("minute %d raised %v", m, r.Updates)
		}
	}
	r := tr.Observe("u", "5", "5", t0.Add(5*time.Minute), wall)
	if len(r.Updates) != 1 || r.Created != 1 || !r.Updates[0].Start.Equal(t0.Add(9*time.Minute)) || r.Updates[0].Count != 3 {
		t.Fatalf("late fill: %+v", r)
	}
}

// TestMergeSupersedes: a late event bridging two episodes merges them
// under the earlier one's id and supersedes the later.
func TestMergeSupersedes(t *testing.T) {
	cfg := Config{Detection: "d", Window: 10 * time.Minute, Threshold: 2, AllowedLateness: time.Hour}
	tr := New(cfg)
	wall := t0.Add(time.Hour)
	s := store{}
	for _, m := range []int{0, 1, 11, 12} {
		s.apply(tr.Observe("u", fmt.Sprint(m), fmt.Sprint(m), t0.Add(time.Duration(m)*time.Minute), wall))
	}
	if len(s) != 2 {
		t.Fatalf("want two episodes, got %v", s.sorted())
	}
	later := IncidentID("d", "u", t0.Add(12*time.Minute))
	r := tr.Observe("u", "9", "9", t0.Add(9*time.Minute), wall)
	s.apply(r)
	if len(r.Superseded) != 1 || r.Superseded[0].ID != later || r.Superseded[0].By != IncidentID("d", "u", t0.Add(time.Minute)) {
		t.Fatalf("superseded %+v", r.Superseded)
	}
	if got := s.sorted(); len(got) != 1 || got[0].Count != 5 || !got[0].Last.Equal(t0.Add(12*time.Minute)) {
		t.Fatalf("merged: %+v", got)
	}
}

// TestFutureEventDoesNotMakeEverythingLate: the watermark stops at the wall
// clock plus the skew.
func TestFutureEventDoesNotMakeEverythingLate(t *testing.T) {
	cfg := Config{Detection: "d", Window: 10 * time.Minute, Threshold: 2, AllowedLateness: 10 * time.Minute, FutureSkew: 15 * time.Minute}
	tr := New(cfg)
	tr.Observe("u", "future", "future", t0.Add(365*24*time.Hour), t0)
	if got := tr.Watermark(); !got.Equal(t0.Add(15 * time.Minute)) {
		t.Fatalf("watermark %s, want wall clock + 15m", got)
	}
	if r := tr.Observe("u", "now", "now", t0, t0); r.Late {
		t.Fatal("an event at the wall clock is late after a future-dated one")
	}
}

// TestEvictionBoundsMemory: after eviction only the last 2W + lateness of
// events remain, and closed episodes are gone.
func TestEvictionBoundsMemory(t *testing.T) {
	cfg := Config{Detection: "d", Window: 10 * time.Minute, Threshold: 2, AllowedLateness: 5 * time.Minute}
	tr := New(cfg)
	for i := range 1000 {
		at := t0.Add(time.Duration(i) * time.Minute)
		tr.Observe(fmt.Sprint("k", i%10), fmt.Sprint(i), fmt.Sprint(i), at, at)
		tr.Evict()
	}
	if n := tr.Entries(); n > 26 {
		t.Fatalf("%d entries kept, want at most 2W+lateness = 25 minutes' worth", n)
	}
	total := 0
	for _, ks := range tr.keys {
		total += len(ks.episodes)
	}
	if total > 10 {
		t.Fatalf("%d episodes kept", total)
	}
}

func TestTrackersShareTheKeyBudgetAndGiveKeysBack(t *testing.T) {
	budget := window.NewBudget(2)
	fatigue := New(Config{Detection: "mfa_fatigue", Window: 10 * time.Minute, Threshold: 2, Keys: budget})
	spray := New(Config{Detection: "password_spray", Window: 20 * time.Minute, Threshold: 2, Distinct: true, Keys: budget})
	now := t0.Add(time.Hour)
	if r := fatigue.Observe("u1", "s1", "s1", t0, now); r.Refused {
		t.Fatal("first key refused")
	}
	if r := spray.Observe("203.0.113.9", "s2", "u2", t0, now); r.Refused {
		t.Fatal("second key refused")
	}
	// The budget is spent: a third key in either tracker is refused, a
	// key already held is not.
	if r := fatigue.Observe("u3", "s3", "s3", t0, now); !r.Refused || len(r.Updates) != 0 {
		t.Errorf("a key past the budget: %+v, want refused", r)
	}
	if r := fatigue.Observe("u1", "s4", "s4", t0.Add(time.Minute), now); r.Refused || len(r.Updates) != 1 {
		t.Errorf("a key held: %+v, want an incident", r)
	}
	if budget.Used() != 2 || budget.Refused() != 1 {
		t.Errorf("budget used %d refused %d, want 2 and 1", budget.Used(), budget.Refused())
	}
	// An event far later (refused: the budget is still spent) moves the
	// watermark; eviction then drops u1 (its events and its closed
	// episode), and its key goes back to the budget.
	if r := fatigue.Observe("u9", "s5", "s5", t0.Add(3*time.Hour), t0.Add(3*time.Hour)); !r.Refused {
		t.Errorf("u9 while the budget is spent: %+v, want refused", r)
	}
	fatigue.Evict()
	if fatigue.Keys() != 0 || budget.Used() != 1 {
		t.Errorf("after eviction: %d keys, budget used %d; want u1 evicted and its key given back", fatigue.Keys(), budget.Used())
	}
	spray.Release()
	if budget.Used() != 0 || spray.Keys() != 0 {
		t.Errorf("after Release: budget used %d, spray keys %d; want 0 and 0", budget.Used(), spray.Keys())
	}
	if r := fatigue.Observe("u3", "s6", "s6", t0.Add(3*time.Hour), t0.Add(3*time.Hour)); r.Refused {
		t.Error("a key refused while the budget has room")
	}
}

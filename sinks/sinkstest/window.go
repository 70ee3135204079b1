package sinkstest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// rebuilt names the distinct identities of rebuilt failures without
// their category, sorted: a window depends neither on the rebuild's order
// nor on a replayed failure coming back twice (it drops duplicates, see
// sinks.FailureSource).
func rebuilt(rs []sinks.FailureRecord) string {
	seen := map[string]bool{}
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		id := strings.TrimPrefix(r.Identity, schemas.CategoryInteractive+"/")
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func testRecentFailuresCommitted(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	var rows []sinks.SignInRecord
	for i, d := range []time.Duration{0, time.Hour, 50 * time.Hour, 60 * time.Hour, 61 * time.Hour} {
		rows = append(rows, Record(SignIn("r"+string(rune('a'+i)), "user-d", "", T0.Add(d), 50126), int64(i)))
	}
	ok := Record(SignIn("r-ok", "user-d", "", T0.Add(55*time.Hour), 0), 5)
	other := Record(SignIn("other-shard", "user-e", "", T0.Add(60*time.Hour), 50126), 3)
	other.Shard = 1
	// Two flushes, each with the watermarks its windows had at its last
	// offset; the second is after the committed offset 4.
	first := &sinks.Batch{SignIns: append(rows[:4:4], other), Watermarks: []sinks.WatermarkRecord{
		{Stage: sinks.WindowUsers, Shard: 0, Offset: 3, At: T0.Add(60 * time.Hour)},
		{Stage: sinks.WindowUsers, Shard: 1, Offset: 3, At: T0.Add(60 * time.Hour)}}}
	second := &sinks.Batch{SignIns: []sinks.SignInRecord{rows[4], ok}, Watermarks: []sinks.WatermarkRecord{
		{Stage: sinks.WindowUsers, Shard: 0, Offset: 5, At: T0.Add(61 * time.Hour)}}}
	write(t, s, first, second)
	write(t, s, first, second) // a replay
	b.settled(t, s, func(t *testing.T) {
		// Committed offset 4: rows 0-3 of shard 0; the watermark there is
		// +60h, so a 48h span keeps +50h and +60h only.
		got, err := s.RecentFailures(ctx, 0, 4, 48*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if names := rebuilt(got); names != "rc,rd" {
			t.Fatalf("rebuilt %s, want rc,rd", names)
		}
		for _, r := range got {
			if r.UserKey != "user-d" || r.AppID != "app-1" || r.ErrorCode != 50126 {
				t.Fatalf("rebuilt record lacks the user, app or code: %+v", r)
			}
		}
		at := map[string]time.Time{}
		for _, r := range got {
			at[r.Identity] = r.At
		}
		if !at[schemas.CategoryInteractive+"/rc"].Equal(T0.Add(50*time.Hour)) || !at[schemas.CategoryInteractive+"/rd"].Equal(T0.Add(60*time.Hour)) {
			t.Fatalf("rebuilt times %v", at)
		}
		if got, err := s.RecentFailures(ctx, 0, 0, 48*time.Hour); err != nil || len(got) != 0 {
			t.Fatalf("nothing committed: got %v %v", got, err)
		}
		if got, err := s.RecentFailures(ctx, 1, 4, 48*time.Hour); err != nil || rebuilt(got) != "other-shard" {
			t.Fatalf("shard 1: got %v %v, want other-shard", got, err)
		}
		if got, err := s.RecentFailures(ctx, 0, 100, 100*time.Hour); err != nil || rebuilt(got) != "ra,rb,rc,rd,re" {
			t.Fatalf("everything: got %s %v, want ra…re (no success, each once)", rebuilt(got), err)
		}
	})
}

// The rebuild reads what the window saw before the committed offset even
// when a redelivery stored a failure again at a later offset, and counts
// its span back from the recorded watermark (a success's time), not from
// the latest failure.
func testRebuildFromWatermark(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	early := Record(SignIn("w-early", "user-w", "", T0, 50126), 1)
	kept := Record(SignIn("w-kept", "user-w", "", T0.Add(30*time.Hour), 50126), 2)
	success := Record(SignIn("w-success", "user-w", "", T0.Add(60*time.Hour), 0), 3)
	marks := []sinks.WatermarkRecord{{Stage: sinks.WindowUsers, Shard: 0, Offset: 3, At: T0.Add(60 * time.Hour)}}
	write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{early, kept, success}, Watermarks: marks})
	again := kept
	again.Offset = 9 // the redelivery, after the committed offset 4
	laterWrite()
	write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{again},
		Watermarks: []sinks.WatermarkRecord{{Stage: sinks.WindowUsers, Shard: 0, Offset: 9, At: T0.Add(61 * time.Hour)}}})
	b.settled(t, s, func(t *testing.T) {
		wm, err := s.WindowWatermark(ctx, sinks.WindowUsers, 0, 4)
		if err != nil || !wm.Equal(T0.Add(60*time.Hour)) {
			t.Fatalf("watermark before offset 4: %v %v, want +60h (the success)", wm, err)
		}
		if wm, err := s.WindowWatermark(ctx, sinks.WindowUsers, 0, 10); err != nil || !wm.Equal(T0.Add(61*time.Hour)) {
			t.Fatalf("watermark before offset 10: %v %v, want +61h", wm, err)
		}
		if wm, err := s.WindowWatermark(ctx, sinks.WindowUsers, 0, 0); err != nil || !wm.IsZero() {
			t.Fatalf("watermark before offset 0: %v %v, want none", wm, err)
		}
		// Span 48h back from +60h: w-kept (+30h) is in, w-early (0) is out;
		// from the latest failure (+30h) it would have been in.
		got, err := s.RecentFailures(ctx, 0, 4, 48*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if names := rebuilt(got); names != "w-kept" {
			t.Fatalf("rebuilt %s, want w-kept once", names)
		}
		if wm, err := s.WindowWatermark(ctx, sinks.WindowIPs, 0, 4); err != nil || !wm.IsZero() {
			t.Fatalf("IP watermark: %v %v, want none", wm, err)
		}
		if wm, err := s.WindowWatermark(ctx, sinks.WindowUsers, 1, 4); err != nil || !wm.IsZero() {
			t.Fatalf("watermark of shard 1: %v %v, want none", wm, err)
		}
	})
}

// The spray stage's rebuild, likewise, keeps a candidate stored before the
// committed offset after a later copy was stored.
func testIPRebuild(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	row := sinks.IPFailureRecord{IP: "203.0.113.9", UserKey: "user-i", Identity: "interactive/ip-1", At: T0, Shard: 0, Offset: 1}
	again := row
	again.Offset = 9
	old := sinks.IPFailureRecord{IP: "203.0.113.9", UserKey: "user-j", Identity: "interactive/ip-0", At: T0.Add(-2 * time.Hour), Shard: 0, Offset: 0}
	late := sinks.IPFailureRecord{IP: "198.51.100.1", UserKey: "user-k", Identity: "interactive/ip-2", At: T0.Add(time.Minute), Shard: 0, Offset: 5}
	mark := func(offset int64, at time.Time) []sinks.WatermarkRecord {
		return []sinks.WatermarkRecord{{Stage: sinks.WindowIPs, Shard: 0, Offset: offset, At: at}}
	}
	write(t, s, &sinks.Batch{IPFailures: []sinks.IPFailureRecord{old, row}, Watermarks: mark(1, T0)})
	laterWrite()
	write(t, s, &sinks.Batch{IPFailures: []sinks.IPFailureRecord{late, again}, Watermarks: mark(9, T0.Add(time.Minute))})
	b.settled(t, s, func(t *testing.T) {
		got, err := s.RecentIPFailures(ctx, 0, 4, time.Hour)
		if err != nil || len(got) != 1 || got[0].Offset != 1 || got[0].IP != row.IP || got[0].UserKey != "user-i" ||
			got[0].Identity != row.Identity || !got[0].At.Equal(T0) {
			t.Fatalf("rebuilt %+v %v, want the copy at offset 1", got, err)
		}
		if wm, err := s.WindowWatermark(ctx, sinks.WindowIPs, 0, 4); err != nil || !wm.Equal(T0) {
			t.Fatalf("IP watermark: %v %v, want T0", wm, err)
		}
		if wm, err := s.WindowWatermark(ctx, sinks.WindowUsers, 0, 4); err != nil || !wm.IsZero() {
			t.Fatalf("user watermark: %v %v, want none", wm, err)
		}
		all, err := s.RecentIPFailures(ctx, 0, 4, 3*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range all {
			names = append(names, fmt.Sprintf("%s@%d", r.Identity, r.Offset))
		}
		sort.Strings(names)
		if fmt.Sprint(names) != "[interactive/ip-0@0 interactive/ip-1@1]" {
			t.Fatalf("3h span: %v, want ip-0 and ip-1 at their first offsets", names)
		}
	})
}

func testIncidentWarmSpan(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	si := SignIn("S-9", "u1", "", T0.Add(10*time.Hour), 500121)
	rec := Record(si, 41)
	rec.Shard = 3
	early := incident("a", "u1", T0.Add(2*time.Hour), T0, T0.Add(9*time.Hour), 30)
	closed := incident("z", "u1", T0.Add(-time.Hour), T0.Add(-2*time.Hour), T0.Add(-time.Hour), 10)
	write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{rec}, Incidents: []sinks.IncidentRecord{early, closed}})
	b.settled(t, s, func(t *testing.T) {
		span, err := s.IncidentWarmSpan(ctx, "user", []string{"mfa_fatigue"}, 3, 42, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		// The rebuild reads failures after watermark - span (exclusive,
		// to the millisecond): reaching T0 from +10h takes 10h and 1ms.
		if span != 10*time.Hour+time.Millisecond {
			t.Fatalf("span %s, want back to the open incident's first member (10h)", span)
		}
		if span, err := s.IncidentWarmSpan(ctx, "user", []string{"password_spray"}, 3, 42, 2*time.Hour); err != nil || span != 2*time.Hour {
			t.Fatalf("no incident of the detection: %s, %v", span, err)
		}
	})
}

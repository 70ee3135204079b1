package sinkstest

import (
	"context"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// Retention removes what happened well before the cutoff from every read
// (sign-ins, their findings, failure counts, the window rebuild) and keeps
// everything after it. What lies shortly before the cutoff may survive: a
// backend may drop whole time partitions only.
func testDropExpired(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	jan := time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC)
	mar := time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC)
	cutoff := time.Date(2025, 2, 10, 0, 0, 0, 0, time.UTC) // January has ended, March has not begun
	old := SignIn("ret-old", "user-r", "r@contoso.example", jan, 50126)
	kept := SignIn("ret-kept", "user-r", "r@contoso.example", mar, 50126)
	write(t, s, &sinks.Batch{
		SignIns:  []sinks.SignInRecord{Record(old, 1), Record(kept, 2)},
		Findings: []schemas.Finding{Finding(old, "invalid_credentials", "low"), Finding(kept, "invalid_credentials", "low")},
		IPFailures: []sinks.IPFailureRecord{{IP: "192.0.2.1", UserKey: "user-r", Identity: "interactive/ret-old", At: jan, Offset: 1},
			{IP: "192.0.2.1", UserKey: "user-r", Identity: "interactive/ret-kept", At: mar, Offset: 2}},
		Watermarks: []sinks.WatermarkRecord{{Stage: sinks.WindowUsers, Shard: 0, Offset: 2, At: mar},
			{Stage: sinks.WindowIPs, Shard: 0, Offset: 2, At: mar}},
	})
	dropped, err := s.DropExpired(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) == 0 {
		t.Fatal("DropExpired named nothing it dropped")
	}
	span := 90 * 24 * time.Hour
	b.settled(t, s, func(t *testing.T) {
		all := func(q sinks.SignInQuery) sinks.SignInQuery {
			q.From, q.To = jan.AddDate(0, 0, -1), mar.AddDate(0, 0, 1)
			return q
		}
		for name, q := range map[string]sinks.SignInQuery{"user": all(sinks.SignInQuery{User: "user-r"}), "upn": all(sinks.SignInQuery{User: "r@contoso.example"})} {
			got, err := s.SignIns(ctx, q)
			if err != nil || order(got) != "ret-kept" {
				t.Fatalf("%s after retention: %s %v, want ret-kept only", name, order(got), err)
			}
		}
		for _, q := range []sinks.SignInQuery{{RequestID: "ret-old"}, {CorrelationID: "corr-ret-old"}} {
			if got, err := s.SignIns(ctx, q); err != nil || len(got) != 0 {
				t.Fatalf("%+v after retention: %s %v, want nothing", q, order(got), err)
			}
		}
		list, err := s.ListSignIns(ctx, sinks.SignInListQuery{From: jan.AddDate(0, 0, -1), To: mar.AddDate(0, 0, 1)})
		if err != nil || order(list) != "ret-kept" {
			t.Fatalf("list after retention: %s %v, want ret-kept", order(list), err)
		}
		fs, err := s.ListFindings(ctx, sinks.FindingListQuery{From: jan.AddDate(0, 0, -1), To: mar.AddDate(0, 0, 1)})
		if err != nil || findingSignIns(fs) != "ret-kept" {
			t.Fatalf("findings after retention: %s %v, want ret-kept's", findingSignIns(fs), err)
		}
		if n, err := s.FailureCount(ctx, "user-r", jan.AddDate(0, 0, -1), mar.AddDate(0, 0, 1)); err != nil || n != 1 {
			t.Fatalf("failure count after retention: %d %v, want 1", n, err)
		}
		counts, err := s.FailureCounts(ctx, sinks.CountQuery{By: sinks.DimAll, Step: 24 * time.Hour, From: jan.AddDate(0, 0, -1), To: mar.AddDate(0, 0, 1)})
		if err != nil || len(counts) != 1 || !counts[0].Start.Equal(time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)) || counts[0].Count != 1 {
			t.Fatalf("failure counts after retention: %+v %v, want one on 2 March", counts, err)
		}
		rb, err := s.RecentFailures(ctx, 0, 3, span)
		if err != nil || rebuilt(rb) != "ret-kept" {
			t.Fatalf("rebuild after retention: %s %v, want ret-kept", rebuilt(rb), err)
		}
		ip, err := s.RecentIPFailures(ctx, 0, 3, span)
		if err != nil || len(ip) != 1 || ip[0].Identity != "interactive/ret-kept" {
			t.Fatalf("IP rebuild after retention: %+v %v, want ret-kept", ip, err)
		}
	})
	if again, err := s.DropExpired(ctx, cutoff); err != nil || len(again) != 0 {
		t.Fatalf("second pass dropped %v %v, want nothing", again, err)
	}
	if applied, err := s.Migrate(ctx); err != nil || len(applied) != 0 { // the migrations' record survives
		t.Fatalf("migrate after retention: %v %v, want nothing to apply", applied, err)
	}
}

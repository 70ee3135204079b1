package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signindiag/signindiag/pipeline/spikedetect"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

var spikeNow = time.Date(2025, 3, 5, 12, 1, 0, 0, time.UTC)

type spikeTenant struct {
	st *clickhouse.Store
	n  int
}

func (t *spikeTenant) write(tb testing.TB, code int, ip string, times ...time.Time) {
	tb.Helper()
	var b sinks.Batch
	for _, at := range times {
		t.n++
		si := schemas.SignIn{ID: fmt.Sprintf("s-%d", t.n), Category: schemas.CategoryInteractive, CreatedDateTime: at,
			UserID: fmt.Sprintf("user-%d", t.n%3), AppDisplayName: "Payroll", IPAddress: ip, Status: schemas.Status{ErrorCode: code}}
		b.SignIns = append(b.SignIns, sinks.SignInRecord{SignIn: si, IsFailure: true})
	}
	if err := t.st.Write(context.Background(), &b); err != nil {
		tb.Fatal(err)
	}
}

func everyStep(from, to time.Time, d time.Duration) []time.Time {
	var out []time.Time
	for t := from; t.Before(to); t = t.Add(d) {
		out = append(out, t)
	}
	return out
}

func storedSpikeIncidents(t *testing.T, st *clickhouse.Store) map[string]sinks.IncidentRecord {
	t.Helper()
	recs, err := st.Incidents(context.Background(), sinks.IncidentQuery{Detection: spikedetect.Detection})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]sinks.IncidentRecord{}
	for _, r := range recs {
		if _, dup := out[r.Key]; dup {
			t.Errorf("two incidents for %s", r.Key)
		}
		out[r.Key] = r
	}
	return out
}

func incidentKeys(m map[string]sinks.IncidentRecord) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestASpikeRaisesOneIncidentPerEpisode, against ClickHouse: a burst of
// 53003 from one IP over a steady trickle of bad passwords raises one
// incident per dimension it shows in; evaluating again, restarting, the
// episode growing and late failures moving its start earlier all update
// those incidents and never open another.
func TestASpikeRaisesOneIncidentPerEpisode(t *testing.T) {
	cfg := clickhousetest.Config(t)
	st, err := clickhouse.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	tn := &spikeTenant{st: st}
	// Two days of two bad passwords every five minutes, from everywhere.
	tn.write(t, 50126, "198.51.100.1", everyStep(spikeNow.Add(-48*time.Hour), spikeNow, 150*time.Second)...)
	clock := spikeNow
	det := spikedetect.New(spikedetect.Config{Dimensions: []sinks.Dimension{sinks.DimErrorCode, sinks.DimIP, sinks.DimAll}},
		st, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return clock })
	ctx := context.Background()
	if got, err := det.Evaluate(ctx); err != nil || len(got) != 0 {
		t.Fatalf("a steady spikeTenant raised %v (%v)", got, err)
	}

	// 11:40: 60 CA blocks from one address.
	burst := time.Date(2025, 3, 5, 11, 40, 0, 0, time.UTC)
	tn.write(t, 53003, "203.0.113.9", everyStep(burst, burst.Add(4*time.Minute), 4*time.Second)...)
	raised, err := det.Evaluate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := storedSpikeIncidents(t, st)
	want := []string{"all=all", "errorCode=53003", "ip=203.0.113.9"}
	if fmt.Sprint(incidentKeys(got)) != fmt.Sprint(want) || len(raised) != 3 {
		t.Fatalf("incidents %v (raised %d), want %v", incidentKeys(got), len(raised), want)
	}
	inc := got["errorCode=53003"]
	var d spikedetect.Details
	if err := json.Unmarshal(inc.Details, &d); err != nil {
		t.Fatal(err)
	}
	if !inc.Start.Equal(burst) || inc.Count != 60 || d.PeakCount != 60 || d.PeakBaseline != 0 || d.Value != "53003" ||
		fmt.Sprint(d.IPs) != "[203.0.113.9]" || fmt.Sprint(d.ErrorCodes) != "[53003]" || len(d.Users) != 3 || fmt.Sprint(d.Apps) != "[Payroll]" {
		t.Errorf("incident %+v details %+v", inc, d)
	}
	firstID := inc.ID

	// The next rounds, and a restarted detector, see the same episode.
	clock = spikeNow.Add(time.Minute)
	if again, err := det.Evaluate(ctx); err != nil || len(again) != 0 {
		t.Fatalf("a round with nothing new wrote %d incidents (%v)", len(again), err)
	}
	metrics := spikedetect.NewMetrics(prometheus.NewRegistry())
	restarted := spikedetect.New(spikedetect.Config{Dimensions: []sinks.Dimension{sinks.DimErrorCode, sinks.DimIP, sinks.DimAll}},
		st, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return clock }).WithMetrics(metrics)
	if _, err := restarted.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	// The episode grows (11:50), and late failures make 11:35 a spike too.
	tn.write(t, 53003, "203.0.113.9", everyStep(burst.Add(10*time.Minute), burst.Add(14*time.Minute), 4*time.Second)...)
	tn.write(t, 53003, "203.0.113.9", everyStep(burst.Add(-5*time.Minute), burst.Add(-time.Minute), 4*time.Second)...)
	clock = spikeNow.Add(3 * time.Minute)
	if _, err := restarted.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	got = storedSpikeIncidents(t, st)
	if fmt.Sprint(incidentKeys(got)) != fmt.Sprint(want) {
		t.Fatalf("incidents after re-evaluation %v, want %v", incidentKeys(got), want)
	}
	// 12:04: the episode's last spike bucket (11:50) is within the gap, so
	// it is still open; the last complete bucket (11:55) is quiet.
	if a := testutil.ToFloat64(metrics.Active.WithLabelValues("errorCode", "53003")); a != 1 {
		t.Errorf("active gauge %g, want 1", a)
	}
	if f := testutil.ToFloat64(metrics.Failures.WithLabelValues("errorCode", "50126")); f != 2 {
		t.Errorf("failures gauge of 50126 %g, want the 2 of the 11:55 bucket", f)
	}
	if a := testutil.ToFloat64(metrics.Active.WithLabelValues("errorCode", "50126")); a != 0 {
		t.Errorf("active gauge of 50126 %g, want 0", a)
	}
	inc = got["errorCode=53003"]
	if inc.ID != firstID || inc.Count != 180 || !inc.First.Equal(burst.Add(-5*time.Minute)) {
		t.Errorf("after growth and late data: id %s (first %s), count %d, first %s; want the same id, 180 failures, first 11:35",
			inc.ID, firstID, inc.Count, inc.First)
	}

	// A second burst after the episode ended is a new episode.
	clock = spikeNow.Add(2 * time.Hour)
	tn.write(t, 50126, "198.51.100.1", everyStep(spikeNow, clock, 150*time.Second)...)
	second := clock.Add(-10 * time.Minute).Truncate(5 * time.Minute)
	tn.write(t, 53003, "203.0.113.9", everyStep(second, second.Add(4*time.Minute), 4*time.Second)...)
	if _, err := restarted.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Incidents(ctx, sinks.IncidentQuery{Detection: spikedetect.Detection, Keys: []string{"errorCode=53003"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !recs[0].Start.Equal(second) || recs[1].ID != firstID {
		t.Errorf("after a second burst: %d incidents %+v, want the new one at %s and the first", len(recs), recs, second)
	}
}

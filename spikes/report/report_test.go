package report

import (
	"context"
	"testing"
	"time"

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/spikes"
)

// fakeSource serves fixed counts and records the queries (a unit-test
// double; the ClickHouse path is tested in queryapi and spikedetect).
type fakeSource struct {
	counts []sinks.Count
	top    []sinks.ValueCount
	asked  []sinks.CountQuery
}

func (f *fakeSource) FailureCounts(_ context.Context, q sinks.CountQuery) ([]sinks.Count, error) {
	f.asked = append(f.asked, q)
	var out []sinks.Count
	for _, c := range f.counts {
		if !c.Start.Before(q.From) && c.Start.Before(q.To) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeSource) TopValues(context.Context, sinks.Dimension, time.Time, time.Time, int) ([]sinks.ValueCount, error) {
	return f.top, nil
}

func (f *fakeSource) SpikeContributors(context.Context, sinks.Dimension, string, time.Time, time.Time, int) (*sinks.Contributors, error) {
	return &sinks.Contributors{}, nil
}

func TestBuildAlignsFillsGapsAndReadsOnlyTheNeededHistory(t *testing.T) {
	day := time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC)
	src := &fakeSource{top: []sinks.ValueCount{{Value: "53003", Count: 45}}}
	// A flat history of 2 per 5 minutes over five weeks, then 40 at 10:00.
	for t := day.Add(-35 * 24 * time.Hour); t.Before(day.Add(24 * time.Hour)); t = t.Add(5 * time.Minute) {
		n := 2
		if t.Equal(day.Add(10 * time.Hour)) {
			n = 40
		}
		src.counts = append(src.counts, sinks.Count{Start: t, Value: "53003", Count: n})
	}
	rep, err := Build(context.Background(), src, spikes.Config{}, Query{By: sinks.DimErrorCode, Step: 5 * time.Minute,
		From: day.Add(7*time.Minute + 3*time.Second), To: day.Add(12*time.Hour + time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.From.Equal(day.Add(5*time.Minute)) || !rep.To.Equal(day.Add(12*time.Hour+5*time.Minute)) || rep.Step != "5m" {
		t.Fatalf("range %s–%s step %s: want it widened to whole 5-minute buckets", rep.From, rep.To, rep.Step)
	}
	s := rep.Series[0]
	if len(s.Buckets) != 144 || s.Total != 143*2+40 {
		t.Fatalf("%d buckets, total %d", len(s.Buckets), s.Total)
	}
	for _, b := range s.Buckets {
		if b.Spike != b.Start.Equal(day.Add(10*time.Hour)) {
			t.Errorf("bucket %+v", b)
		}
	}
	q := src.asked[0]
	if len(q.Values) != 1 || q.Values[0] != "53003" || len(q.Within) != 5 {
		t.Fatalf("count query %+v: want the top value and five history spans", q)
	}
	var read time.Duration
	for _, w := range q.Within {
		read += w[1].Sub(w[0])
	}
	if read > 11*24*time.Hour {
		t.Errorf("a half-day range reads %s of history, want about two days per week", read)
	}
	if _, err := Build(context.Background(), src, spikes.Config{}, Query{By: sinks.DimAll, Step: 5 * time.Minute, From: day, To: day.Add(60 * 24 * time.Hour)}); err == nil {
		t.Error("60 days of 5-minute buckets accepted")
	}
}

package spikes

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const step = 15 * time.Minute

// monday is a Monday 00:00 UTC: series start on it, five weeks before the
// week they are evaluated on.
var monday = time.Date(2025, 2, 3, 0, 0, 0, 0, time.UTC)

const perDay = int(24 * time.Hour / step)

// poisson draws a Poisson count (Knuth for small means, a rounded normal
// above): failure counts per bucket are about that noisy.
func poisson(r *rand.Rand, mean float64) float64 {
	if mean > 50 {
		return math.Max(0, math.Round(mean+math.Sqrt(mean)*r.NormFloat64()))
	}
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// series draws days of buckets whose mean is rate(bucket start).
func series(seed uint64, days int, rate func(t time.Time) float64) Series {
	r := rand.New(rand.NewPCG(seed, 1))
	s := Series{Start: monday, Step: step}
	for i := 0; i < days*perDay; i++ {
		s.Counts = append(s.Counts, poisson(r, rate(monday.Add(time.Duration(i)*step))))
	}
	return s
}

func spikesIn(points []Point) []Point {
	var out []Point
	for _, p := range points {
		if p.Spike {
			out = append(out, p)
		}
	}
	return out
}

// lastWeek evaluates the last seven days: four weeks of seasonal history
// and a day of level before them.
func lastWeek(s Series) []Point {
	return Evaluate(DefaultConfig(), s, len(s.Counts)-7*perDay)
}

func workingWeek(t time.Time) float64 {
	switch {
	case t.Weekday() == time.Saturday || t.Weekday() == time.Sunday:
		return 4
	case t.Hour() >= 8 && t.Hour() < 18:
		return 120
	case t.Hour() >= 6 && t.Hour() < 20:
		return 40
	}
	return 8
}

// A usual week (busy weekday hours, quiet nights and weekends) has no
// spikes at its transitions: Monday 8:00 is compared with earlier
// Mondays at 8:00. Pure Poisson noise still crosses 3σ now and then (the
// rule's false-alarm rate, about one bucket a week per series at 15-minute
// steps), so five seeded weeks may hold a few isolated ones, none where
// the pattern changes.
func TestADailyAndWeeklyPatternIsNotASpike(t *testing.T) {
	total := 0
	for seed := uint64(1); seed <= 5; seed++ {
		s := series(seed, 35, workingWeek)
		for _, p := range spikesIn(lastWeek(s)) {
			total++
			m := p.Start.Hour()*60 + p.Start.Minute()
			weekday := p.Start.Weekday() != time.Saturday && p.Start.Weekday() != time.Sunday
			if weekday && (m >= 5*60+30 && m < 8*60+30 || m >= 17*60+30 && m < 20*60+30) ||
				p.Start.Weekday() == time.Monday && m < 60 || p.Start.Weekday() == time.Saturday && m < 60 {
				t.Errorf("seed %d: spike at a transition of the pattern: %+v", seed, p)
			}
		}
	}
	if total > 5 {
		t.Errorf("%d spikes in five usual weeks, want at most the noise rate of one a week", total)
	}
	// Without previous weeks (a deployment two days old), the same Monday
	// morning is a spike against the weekend's level: the seasonal term is
	// what keeps it quiet above.
	s := series(1, 35, workingWeek)
	young := Series{Start: s.Start.Add(26 * 24 * time.Hour), Step: step, Counts: s.Counts[26*perDay : 29*perDay]}
	monday9 := 2*perDay + 9*4 // Monday 9:00 of the last week
	if p := Evaluate(DefaultConfig(), young, monday9)[0]; !p.Spike {
		t.Errorf("Monday 9:00 without history %+v: want a spike, the check above would prove nothing", p)
	}
}

func TestAStepChangeIsASpikeFromItsFirstBucket(t *testing.T) {
	s := series(7, 35, workingWeek)
	// Wednesday of the last week, 10:00: an expired secret adds 150
	// failures per bucket on top of the usual 120.
	at := 30*perDay + 10*4
	r := rand.New(rand.NewPCG(99, 2))
	for i := at; i < at+8; i++ {
		s.Counts[i] += poisson(r, 150)
	}
	points := lastWeek(s)
	got := spikesIn(points)
	if len(got) == 0 || !got[0].Start.Equal(s.Start.Add(time.Duration(at)*step)) {
		t.Fatalf("spikes %+v, want the first at %s", got, s.Start.Add(time.Duration(at)*step))
	}
	for _, p := range got {
		if p.Start.Before(s.Start.Add(time.Duration(at)*step)) || !p.Start.Before(s.Start.Add(time.Duration(at+8)*step)) {
			t.Errorf("spike outside the step: %+v", p)
		}
	}
	if got[0].Baseline < 80 || got[0].Baseline > 160 || got[0].Score < 5 {
		t.Errorf("first spike %+v: want a baseline near the usual 120 and a high score", got[0])
	}
	eps := Episodes(points, step, 1)
	if len(eps) != 1 || !eps[0].Start.Equal(got[0].Start) || eps[0].Count < 8*200 {
		t.Errorf("episodes %+v, want one of the eight buckets", eps)
	}
}

func TestASlowDriftIsNotASpike(t *testing.T) {
	// 2% more failures every day for five weeks (twice the level), on the
	// working-week pattern.
	s := series(11, 35, func(t time.Time) float64 {
		return workingWeek(t) * math.Pow(1.02, t.Sub(monday).Hours()/24)
	})
	if got := spikesIn(lastWeek(s)); len(got) != 0 {
		t.Errorf("%d spikes in a slow drift, first %+v", len(got), got[0])
	}
}

func TestLateDataFillingABucketMakesItASpikeWhenReevaluated(t *testing.T) {
	s := series(13, 35, func(time.Time) float64 { return 20 })
	at := len(s.Counts) - 3
	s.Counts[at] = 25 // what had arrived at the first evaluation
	if p := Evaluate(DefaultConfig(), s, at)[0]; p.Spike {
		t.Fatalf("partial bucket %+v is a spike", p)
	}
	s.Counts[at] = 90 // the failures delivered an hour late land in it
	points := Evaluate(DefaultConfig(), s, at)
	if !points[0].Spike || points[0].Count != 90 {
		t.Fatalf("filled bucket %+v is not a spike", points[0])
	}
	if points[1].Spike || points[1].Baseline > 25 {
		t.Errorf("the next bucket %+v: one late bucket must not move its baseline", points[1])
	}
}

func TestAQuietTenantsFewFailuresAreNotASpike(t *testing.T) {
	s := series(17, 35, func(time.Time) float64 { return 0.3 })
	last := len(s.Counts) - 1
	s.Counts[last] = 3 // 1 → 3: a score far above 3σ, but three failures
	p := Evaluate(DefaultConfig(), s, last)[0]
	if p.Spike || p.Score < DefaultConfig().MinScore {
		t.Fatalf("quiet tenant's 3 failures %+v: want a high score and no spike", p)
	}
	s.Counts[last] = 40 // the same tenant's 40 failures in a bucket is one
	if p := Evaluate(DefaultConfig(), s, last)[0]; !p.Spike {
		t.Fatalf("quiet tenant's 40 failures %+v: want a spike", p)
	}
}

func TestWithoutHistoryTheLevelIsTheBaseline(t *testing.T) {
	s := series(19, 2, func(time.Time) float64 { return 30 })
	points := Evaluate(DefaultConfig(), s, perDay)
	for _, p := range points {
		if math.Abs(p.Baseline-30) > 6 {
			t.Fatalf("baseline %+v, want the day's median near 30", p)
		}
	}
	if got := spikesIn(points); len(got) != 0 {
		t.Errorf("spikes in a flat series: %+v", got)
	}
}

func TestEpisodesBridgeShortGaps(t *testing.T) {
	var points []Point
	for i, spike := range []bool{false, true, true, false, true, false, false, true} {
		points = append(points, Point{Start: monday.Add(time.Duration(i) * step), Count: float64(10 * (i + 1)), Spike: spike})
	}
	eps := Episodes(points, step, 1)
	if len(eps) != 2 {
		t.Fatalf("episodes %+v, want 2", eps)
	}
	if !eps[0].Start.Equal(monday.Add(step)) || !eps[0].End.Equal(monday.Add(5*step)) || eps[0].Count != 20+30+50 || eps[0].Peak.Count != 50 {
		t.Errorf("first episode %+v", eps[0])
	}
	if !eps[1].Start.Equal(monday.Add(7 * step)) {
		t.Errorf("second episode %+v", eps[1])
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{{Weeks: 13}, {LevelWeight: 2}, {MinScore: -1}, {LevelWindow: 8 * 24 * time.Hour}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if got := DefaultConfig().History(); got != 29*24*time.Hour+30*time.Minute {
		t.Errorf("history %s, want 29 days", got)
	}
}

func TestNeededCoversWhatEvaluateReads(t *testing.T) {
	cfg := DefaultConfig()
	from := monday.Add(30 * 24 * time.Hour)
	day := cfg.Needed(from, from.Add(24*time.Hour))
	if len(day) != 5 || !day[0].From.Equal(from.Add(-cfg.History())) || !day[4].To.Equal(from.Add(24*time.Hour)) {
		t.Fatalf("a day's spans %+v", day)
	}
	// A series zeroed outside the spans scores the day exactly as the full one.
	full := series(23, 35, workingWeek)
	partial := Series{Start: full.Start, Step: full.Step, Counts: make([]float64, len(full.Counts))}
	for i := range full.Counts {
		at := full.Start.Add(time.Duration(i) * step)
		for _, s := range day {
			if !at.Before(s.From) && at.Before(s.To) {
				partial.Counts[i] = full.Counts[i]
			}
		}
	}
	first := int(from.Sub(full.Start) / step)
	a, b := Evaluate(cfg, full, first)[:perDay], Evaluate(cfg, partial, first)[:perDay]
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("bucket %d: %+v with every count, %+v with the needed spans only", i, a[i], b[i])
		}
	}
	if week := cfg.Needed(from, from.Add(7*24*time.Hour)); len(week) != 1 {
		t.Errorf("a week's spans %+v, want one", week)
	}
}

// BenchmarkEvaluateWeek scores a week of 15-minute buckets with four weeks
// of history: one series of /v1/spikes' 7-day request.
func BenchmarkEvaluateWeek(b *testing.B) {
	s := series(29, 36, workingWeek)
	for b.Loop() {
		Evaluate(DefaultConfig(), s, len(s.Counts)-7*perDay)
	}
}

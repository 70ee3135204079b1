// Package spikes decides which buckets of a failure count series are
// spikes: counts far above what the series' own history predicts. It is
// pure arithmetic on counts; the queries that produce the series live in
// sinks, the HTTP shape in queryapi, the continuous detector in
// pipeline/spikedetect.
//
// For a bucket at time t with count c:
//
//   - level L(t): the mean of the counts over the preceding day
//     [t−24h, t) between their 10th and 90th percentiles. It ignores a
//     few hours of outliers as a median does, so a spike that has just
//     begun does not raise its own baseline;
//   - seasonal term: the counts of the same slot (t ± SlotWidth) one, two,
//     … Weeks weeks back, each scaled by how the level moved since that
//     week, r = (L(t)+1)/(L(t−k·7d)+1) raised to LevelWeight: Monday 9:00 is
//     compared with earlier Mondays at 9:00, not with Sunday 3:00, and a
//     tenant that grew (or a slow drift) moves its baseline with it;
//   - baseline b: the median of those scaled counts, with σ = 1.4826·MAD of
//     them (the MAD scaled to a standard deviation). Without a previous
//     week (a new deployment), b is L and σ the preceding day's 1.4826·MAD;
//   - σ is floored at √b + 1 and at MinSigma: counts are at least as noisy
//     as a Poisson process, whose tail at small means is heavier than a
//     normal one (P(X ≥ 17) is 0.4% for a mean of 8, where 3√8 would put
//     it at 0.13%); the +1 brings a 3σ rule back to about one false alarm
//     a week at 15-minute steps;
//   - score z = (c − b)/σ; the bucket is a spike when z ≥ MinScore and
//     c ≥ MinCount and c − b ≥ MinExcess.
package spikes

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Config is the baseline and the rule. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// Weeks is how many previous weeks' same slot make the seasonal term.
	// 4 covers a month (a holiday or an incident in one of them is
	// outvoted by the median) without reaching back into a tenant that has
	// changed much.
	Weeks int
	// LevelWindow is the span before a bucket its robust level comes from.
	// A day holds every hour once, so the level's median is not thrown by
	// the daily cycle's peak or trough, and a spike needs half a day to
	// become the new normal.
	LevelWindow time.Duration
	// LevelWeight is how much the level's move since a previous week
	// scales that week's counts: 1 follows it fully, 0 ignores it. 1,
	// because a median over a day moves only once a change has lasted half
	// a day: by then it is the new normal, not a spike.
	LevelWeight float64
	// SlotWidth is how far either side of a bucket the previous weeks'
	// counts count as the same slot. 30 minutes gives the median 5 counts
	// per week at 15-minute steps and 13 at 5-minute ones, enough to be
	// stable, while keeping a slot within the hour whose pattern it shares.
	SlotWidth time.Duration
	// MinScore is the robust z-score from which a bucket is a spike: 3σ,
	// the usual outlier rule, which a well-behaved series crosses about
	// once in 700 buckets (a few times a week at 15-minute steps, which
	// MinCount and MinExcess then filter).
	MinScore float64
	// MinCount is the smallest count that can be a spike: 10 failures in
	// a bucket is where an admin starts to care; below it, a quiet
	// tenant's 1→3 would score high on any baseline.
	MinCount int
	// MinExcess is the smallest excess over the baseline that can be a
	// spike: 5 keeps a busy series' unremarkable wobble (say 400→410,
	// when σ is small because the series was unusually flat) quiet.
	MinExcess float64
	// MinSigma floors σ, so a series that was exactly flat (MAD 0) does
	// not turn every +1 into an infinite score.
	MinSigma float64
}

// DefaultConfig is the rule /v1/spikes and the detector use unless
// configured otherwise.
func DefaultConfig() Config {
	return Config{Weeks: 4, LevelWindow: 24 * time.Hour, LevelWeight: 1, SlotWidth: 30 * time.Minute, MinScore: 3, MinCount: 10, MinExcess: 5, MinSigma: 1}
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Weeks == 0 {
		c.Weeks = d.Weeks
	}
	if c.LevelWindow == 0 {
		c.LevelWindow = d.LevelWindow
	}
	if c.LevelWeight == 0 {
		c.LevelWeight = d.LevelWeight
	}
	if c.SlotWidth == 0 {
		c.SlotWidth = d.SlotWidth
	}
	if c.MinScore == 0 {
		c.MinScore = d.MinScore
	}
	if c.MinCount == 0 {
		c.MinCount = d.MinCount
	}
	if c.MinExcess == 0 {
		c.MinExcess = d.MinExcess
	}
	if c.MinSigma == 0 {
		c.MinSigma = d.MinSigma
	}
	return c
}

// Validate names the field that is out of range.
func (c Config) Validate() error {
	switch {
	case c.Weeks < 0 || c.Weeks > 12:
		return fmt.Errorf("weeks: expected 0 to 12, got %d", c.Weeks)
	case c.LevelWindow < 0 || c.LevelWindow > 7*24*time.Hour:
		return fmt.Errorf("level window: expected up to 7 days, got %s", c.LevelWindow)
	case c.LevelWeight < 0 || c.LevelWeight > 1:
		return fmt.Errorf("level weight: expected 0 to 1, got %g", c.LevelWeight)
	case c.SlotWidth < 0 || c.SlotWidth > 12*time.Hour:
		return fmt.Errorf("slot width: expected up to 12 hours, got %s", c.SlotWidth)
	case c.MinScore < 0 || c.MinCount < 0 || c.MinExcess < 0 || c.MinSigma < 0:
		return fmt.Errorf("score, count, excess and sigma minimums must not be negative")
	}
	return nil
}

// History is how far before the first evaluated bucket the counts must
// reach for the baseline to be complete.
func (c Config) History() time.Duration {
	c = c.WithDefaults()
	return time.Duration(c.Weeks)*7*24*time.Hour + c.LevelWindow + c.SlotWidth
}

// Series is a count per bucket of Step from Start, with no gaps: a bucket
// without failures holds 0.
type Series struct {
	Start  time.Time
	Step   time.Duration
	Counts []float64
}

// Point is one evaluated bucket.
type Point struct {
	Start    time.Time
	Count    float64
	Baseline float64
	Score    float64
	Spike    bool
}

// Evaluate scores the buckets of s from index from on; the buckets before
// it are history only. Buckets whose history lies before s.Start use what
// there is: the weeks there are, a level from a shorter window (and none
// for the very first bucket, which then has a baseline of 0 and is a spike
// only when MinCount and MinExcess allow).
func Evaluate(cfg Config, s Series, from int) []Point {
	cfg = cfg.WithDefaults()
	if s.Step <= 0 || from < 0 || from >= len(s.Counts) {
		return nil
	}
	week := int(7 * 24 * time.Hour / s.Step)
	win := max(1, int(cfg.LevelWindow/s.Step))
	half := int(cfg.SlotWidth / s.Step)
	levels := slidingLevels(s.Counts, win)
	// level is the robust mean of the window before i (none for i = 0).
	level := func(i int) (float64, bool) {
		if i <= 0 {
			return 0, false
		}
		return levels[i], true
	}
	buf := make([]float64, 0, win)
	out := make([]Point, 0, len(s.Counts)-from)
	var seasonal []float64
	for i := from; i < len(s.Counts); i++ {
		p := Point{Start: s.Start.Add(time.Duration(i) * s.Step), Count: s.Counts[i]}
		l, haveLevel := level(i)
		seasonal = seasonal[:0]
		for k := 1; k <= cfg.Weeks && week > 0; k++ {
			j := i - k*week
			if j+half < 0 {
				break
			}
			r := 1.0
			if pl, ok := level(j); ok && haveLevel {
				r = math.Pow(math.Min(4, math.Max(0.25, (l+1)/(pl+1))), cfg.LevelWeight)
			}
			for n := max(0, j-half); n <= j+half && n < i; n++ {
				seasonal = append(seasonal, s.Counts[n]*r)
			}
		}
		var sigma float64
		switch {
		case len(seasonal) > 0:
			b, mad := medianMAD(seasonal)
			p.Baseline, sigma = b, 1.4826*mad
		case haveLevel:
			lo := max(0, i-win)
			buf = append(buf[:0], s.Counts[lo:i]...)
			b, mad := medianMAD(buf)
			p.Baseline, sigma = b, 1.4826*mad
		}
		sigma = math.Max(sigma, math.Max(math.Sqrt(p.Baseline)+1, cfg.MinSigma))
		p.Score = (p.Count - p.Baseline) / sigma
		p.Spike = p.Score >= cfg.MinScore && p.Count >= float64(cfg.MinCount) && p.Count-p.Baseline >= cfg.MinExcess
		out = append(out, p)
	}
	return out
}

// slidingLevels returns, for every i, the mean of counts[max(0, i−win):i]
// between their 10th and 90th percentiles (as robust as a median to a
// spike of a few hours in the window, but not stuck on whole numbers as a
// median of small counts is, so the ratio of two levels does not jump by
// 20% between 4 and 5), keeping the window sorted as it slides: one
// insertion and one removal per bucket instead of a sort, which made
// scoring a week of 15-minute buckets ten times faster.
func slidingLevels(counts []float64, win int) []float64 {
	out := make([]float64, len(counts))
	sorted := make([]float64, 0, win+1)
	for i := 1; i < len(counts); i++ {
		x := counts[i-1]
		j := sort.SearchFloat64s(sorted, x)
		sorted = append(sorted, 0)
		copy(sorted[j+1:], sorted[j:])
		sorted[j] = x
		if i > win {
			old := counts[i-1-win]
			k := sort.SearchFloat64s(sorted, old)
			sorted = append(sorted[:k], sorted[k+1:]...)
		}
		cut := len(sorted) / 10
		sum := 0.0
		for _, v := range sorted[cut : len(sorted)-cut] {
			sum += v
		}
		out[i] = sum / float64(len(sorted)-2*cut)
	}
	return out
}

// medianMAD returns the median of xs and the median absolute deviation
// from it. It reorders xs.
func medianMAD(xs []float64) (median, mad float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	median = medianInPlace(xs)
	for i, x := range xs {
		xs[i] = math.Abs(x - median)
	}
	return median, medianInPlace(xs)
}

func medianInPlace(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// Episode is a run of spike buckets: it starts at its first spike bucket
// and lasts while spikes follow each other with at most Gap buckets
// between them.
type Episode struct {
	Start, End time.Time // End: the end of its last spike bucket
	// Peak is the spike bucket with the highest count.
	Peak Point
	// Count sums the counts of its spike buckets.
	Count float64
}

// Episodes groups the spikes of points (in time order, one step apart)
// into episodes; gap is how many quiet buckets an episode survives, so a
// spike that dips for a bucket stays one episode.
func Episodes(points []Point, step time.Duration, gap int) []Episode {
	var out []Episode
	quiet := 0
	open := false
	for _, p := range points {
		if !p.Spike {
			quiet++
			if open && quiet > gap {
				open = false
			}
			continue
		}
		quiet = 0
		if !open {
			out = append(out, Episode{Start: p.Start, Peak: p})
			open = true
		}
		e := &out[len(out)-1]
		e.End = p.Start.Add(step)
		e.Count += p.Count
		if p.Count > e.Peak.Count {
			e.Peak = p
		}
	}
	return out
}

// Span is a half-open time range [From, To).
type Span struct{ From, To time.Time }

// Needed is the part of the history that evaluating [from, to) reads,
// earliest first, overlapping spans merged: the level window before the
// range, and each previous week's copy of the range widened by the slot
// width and its own level window. For a day's range it is about a third of
// History(); a week's range needs all of it.
func (c Config) Needed(from, to time.Time) []Span {
	c = c.WithDefaults()
	spans := []Span{{from.Add(-c.LevelWindow), to}}
	for k := 1; k <= c.Weeks; k++ {
		back := time.Duration(k) * 7 * 24 * time.Hour
		spans = append(spans, Span{from.Add(-back - c.LevelWindow - c.SlotWidth), to.Add(-back + c.SlotWidth)})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].From.Before(spans[j].From) })
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if !s.From.After(last.To) {
			if s.To.After(last.To) {
				last.To = s.To
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/spikes"
	"github.com/signindiag/signindiag/spikes/report"
)

// shape is one timed request: what /v1/spikes would answer.
type shape struct {
	name   string
	by     sinks.Dimension
	step   time.Duration
	span   time.Duration
	target time.Duration // the p99 target
}

var shapes = []shape{
	{"7d by errorCode, 15m", sinks.DimErrorCode, 15 * time.Minute, 7 * 24 * time.Hour, 500 * time.Millisecond},
	{"7d by ip, 15m", sinks.DimIP, 15 * time.Minute, 7 * 24 * time.Hour, 500 * time.Millisecond},
	{"7d tenant-wide, 15m", sinks.DimAll, 15 * time.Minute, 7 * 24 * time.Hour, 500 * time.Millisecond},
	{"24h by errorCode, 5m", sinks.DimErrorCode, 5 * time.Minute, 24 * time.Hour, 100 * time.Millisecond},
	{"24h by ip, 5m", sinks.DimIP, 5 * time.Minute, 24 * time.Hour, 100 * time.Millisecond},
	{"24h tenant-wide, 5m", sinks.DimAll, 5 * time.Minute, 24 * time.Hour, 100 * time.Millisecond},
}

// measure times report.Build (the top-10 query, the counts with the
// baseline history, the spike rule) for each shape, ending at the latest
// stored sign-in, runs times after one untimed warm-up, round-robin over
// the shapes so that a burst of load on the shared machine hits them all.
//
// ref, run in the same rounds, is a fixed query of the server's own (a
// sum over ten million numbers, about 10 ms on an idle core): its
// timings say how loaded the shared machine was while the shapes ran.
func measure(ctx context.Context, st *clickhouse.Store, ref func(context.Context) error, runs int, out io.Writer, log *slog.Logger) error {
	first, last, rows, err := st.FactsExtent(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "signin_facts: %d rows (duplicates included) from %s to %s\n", rows, first.Format(time.RFC3339), last.Format(time.RFC3339))
	cfg := spikes.DefaultConfig()
	end := last.Truncate(time.Minute).Add(time.Minute)
	took := make([][]time.Duration, len(shapes))
	var refs []time.Duration
	for run := -1; run < runs; run++ {
		began := time.Now()
		if err := ref(ctx); err != nil {
			return fmt.Errorf("reference query: %w", err)
		}
		if run >= 0 {
			refs = append(refs, time.Since(began))
		}
		for i, s := range shapes {
			began := time.Now()
			rep, err := report.Build(ctx, st, cfg, report.Query{By: s.by, Step: s.step, From: end.Add(-s.span), To: end, Top: report.DefaultTop})
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			d := time.Since(began)
			if run < 0 {
				spikesFound := 0
				for _, series := range rep.Series {
					for _, b := range series.Buckets {
						if b.Spike {
							spikesFound++
						}
					}
				}
				log.Info("bench-spikes: warm-up", "shape", s.name, "series", len(rep.Series), "spike_buckets", spikesFound, "took", d)
				continue
			}
			took[i] = append(took[i], d)
		}
	}
	fmt.Fprintf(out, "%-24s %6s %10s %10s %10s %8s\n", "request", "runs", "p50", "p99", "max", "target")
	slices.Sort(refs)
	fmt.Fprintf(out, "%-24s %6d %10s %10s %10s %8s\n", "reference (sum 10M)", len(refs), ms(pct(refs, 0.5)), ms(pct(refs, 0.99)), ms(refs[len(refs)-1]), "-")
	for i, s := range shapes {
		slices.Sort(took[i])
		fmt.Fprintf(out, "%-24s %6d %10s %10s %10s %8s\n", s.name, len(took[i]), ms(pct(took[i], 0.50)), ms(pct(took[i], 0.99)),
			ms(took[i][len(took[i])-1]), ms(s.target))
	}
	return nil
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

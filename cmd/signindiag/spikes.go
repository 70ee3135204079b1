package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/spikes/report"
)

const spikesHelp = `Usage: signindiag spikes [--by DIMENSION] [--since 2h] [--step 5m] [--top 10] [--all]

Prints the failure spikes of the recent buckets as a table, for an admin
without a browser: each spike bucket with its dimension, value, failures,
baseline and robust z-score. It reads ClickHouse directly
(SIGNINDIAG_CLICKHOUSE_*) with the same queries and rule as /v1/spikes
(SIGNINDIAG_SPIKES_*), so it works where the API is not running or not
reachable, and agrees with it.

Flags:
`

// runSpikes is `signindiag spikes`.
func runSpikes(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("spikes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	by := fs.String("by", "", "one dimension (errorCode, scenario, app, clientApp, country, ip, all); default every one")
	since := fs.Duration("since", 2*time.Hour, "how far back to look")
	step := fs.String("step", "5m", "bucket width: 5m, 15m or 1h")
	top := fs.Int("top", report.DefaultTop, "values per dimension (the most failures), 1-50")
	all := fs.Bool("all", false, "print every bucket of the series, not only the spikes")
	fs.Usage = func() {
		fmt.Fprint(stdout, spikesHelp)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	dims := sinks.Dimensions
	if *by != "" {
		dims = nil
		for _, d := range sinks.Dimensions {
			if string(d) == *by {
				dims = []sinks.Dimension{d}
			}
		}
		if dims == nil {
			fmt.Fprintf(stderr, "signindiag spikes: --by: expected one of errorCode, scenario, app, clientApp, country, ip, all; got %q\n", *by)
			return 2
		}
	}
	stepDur, ok := report.Steps[*step]
	if !ok {
		fmt.Fprintf(stderr, "signindiag spikes: --step: expected 5m, 15m or 1h, got %q\n", *step)
		return 2
	}
	if *since < stepDur || *since > 31*24*time.Hour {
		fmt.Fprintf(stderr, "signindiag spikes: --since: expected a duration from the step to 744h, got %s\n", *since)
		return 2
	}
	if *top < 1 || *top > report.MaxTop {
		fmt.Fprintf(stderr, "signindiag spikes: --top: expected 1 to %d, got %d\n", report.MaxTop, *top)
		return 2
	}
	cfg, err := loadConfig(context.Background(), envconfig.OsLookuper(), false)
	if err != nil {
		fmt.Fprintf(stderr, "signindiag: configuration: %v\n", err)
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "signindiag spikes: %v\n", err)
		return 1
	}
	defer store.Close()
	now := time.Now().UTC()
	var reports []*report.Report
	for _, d := range dims {
		rep, err := report.Build(ctx, store, cfg.Spikes.Rule(), report.Query{By: d, Step: stepDur, From: now.Add(-*since), To: now, Top: *top})
		if err != nil {
			fmt.Fprintf(stderr, "signindiag spikes: by %s: %v\n", d, err)
			return 1
		}
		reports = append(reports, rep)
	}
	printSpikes(stdout, reports, *all)
	return 0
}

// printSpikes writes the spike buckets (every bucket with all) as an
// aligned table, newest first within each series, or a line saying there
// is none.
func printSpikes(w io.Writer, reports []*report.Report, all bool) {
	var rows [][]string
	var from, to time.Time
	for _, rep := range reports {
		from, to = rep.From, rep.To
		for _, s := range rep.Series {
			for i := len(s.Buckets) - 1; i >= 0; i-- {
				b := s.Buckets[i]
				if !b.Spike && !all {
					continue
				}
				mark, value := "", s.Value
				if b.Spike {
					mark = "yes"
				}
				if value == "" {
					value = "(none)"
				}
				rows = append(rows, []string{string(rep.By), value, b.Start.Format("2006-01-02 15:04"), fmt.Sprint(b.Count),
					fmt.Sprintf("%.1f", b.Baseline), fmt.Sprintf("%.1f", b.Score), mark})
			}
		}
	}
	if len(rows) == 0 {
		fmt.Fprintf(w, "no failure spikes from %s to %s UTC\n", from.Format("2006-01-02 15:04"), to.Format("2006-01-02 15:04"))
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DIMENSION\tVALUE\tBUCKET (UTC)\tFAILURES\tBASELINE\tSCORE\tSPIKE")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush() // the terminal's write errors have nowhere to go
}

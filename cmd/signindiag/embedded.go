package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signindiag/signindiag/loadgen"
	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/inproc"
	"github.com/signindiag/signindiag/pipeline/input"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/sinks"
)

// errInputDone ends a job whose input is all stored (ingest --input
// without --follow): the pipeline then shuts down as on SIGTERM.
var errInputDone = errors.New("input done")

// embeddedInput feeds the pipeline without Kafka.
type embeddedInput struct {
	// files are read in turn (run --input); "-" is standard input.
	files  []string
	follow bool
	// traffic, when set, is generated instead (demo).
	traffic *loadgen.Config
	// exitWhenDone ends the job once the input is stored; otherwise it
	// keeps serving the API.
	exitWhenDone bool
	// store answers the demo's ready-made lookups.
	store sinks.Store
	out   io.Writer
}

// embeddedPipeline is the in-process transport of a job without Kafka and
// the file its dead letters go to, both in the data directory.
type embeddedPipeline struct {
	transport   *inproc.Transport
	deadLetters *deadletter.FileSink
}

func newEmbeddedPipeline(cfg *Config, log *slog.Logger) (*embeddedPipeline, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("%sDATA_DIR: %w", envPrefix, err)
	}
	sink, err := deadletter.OpenFileSink(filepath.Join(cfg.DataDir, "deadletters.jsonl"))
	if err != nil {
		return nil, err
	}
	t, err := inproc.New(inproc.Config{Partitions: cfg.Kafka.Partitions, OffsetsFile: filepath.Join(cfg.DataDir, "offsets.json"),
		DeadLetterTopics: []string{cfg.Kafka.DLQTopic, cfg.Kafka.StorageDLQTopic}, DeadLetters: sink, Log: log})
	if err != nil {
		_ = sink.Close() // the transport's error is the one to report
		return nil, err
	}
	return &embeddedPipeline{transport: t, deadLetters: sink}, nil
}

func (e *embeddedPipeline) close() {
	if err := e.deadLetters.Close(); err != nil {
		slog.Default().Warn("closing the dead-letter file", "err", err)
	}
}

// feed publishes the input; once it is all stored (never, with follow) it
// prints a summary, and ends the job or lets it serve on.
func (e *embeddedPipeline) feed(ctx context.Context, in *embeddedInput, cfg *Config, reg *prometheus.Registry, log *slog.Logger) error {
	start := time.Now()
	var read []string
	if in.traffic != nil {
		gen, err := loadgen.New(*in.traffic)
		if err != nil {
			return err
		}
		st, err := input.Generate(ctx, gen, cfg.Kafka.SignInTopic, cfg.Kafka.FlagTopic, e.transport)
		if err != nil {
			return ignoreCanceled(err)
		}
		read = append(read, fmt.Sprintf("generated %d sign-ins and %d flags (%d messages)", st.SignIns, st.Flags, st.Messages))
	}
	// A file that cannot be read, or whose JSON breaks, is reported and
	// the others are read: what came before the break is processed.
	var failed []error
	for i, f := range in.files {
		follow := in.follow && i == len(in.files)-1
		st, err := input.ReadFile(ctx, f, cfg.Kafka.SignInTopic, follow, e.transport)
		if ctx.Err() != nil {
			return nil
		}
		line := fmt.Sprintf("%s: %d messages, %d bytes", st.Path, st.Messages, st.Bytes)
		if err != nil {
			log.Error("input file not read to the end", "file", f, "err", err)
			failed = append(failed, err)
			line += fmt.Sprintf(" (STOPPED: %v)", err)
		}
		read = append(read, line)
	}
	e.transport.EndInput()
	if err := e.transport.Drained(ctx); err != nil {
		return ignoreCanceled(err)
	}
	e.summarise(in.out, read, reg, time.Since(start))
	if in.traffic != nil {
		printLookups(ctx, in.out, in.store, cfg, log)
	}
	if in.exitWhenDone {
		if len(failed) > 0 {
			return fmt.Errorf("%d input files not read to the end: %w", len(failed), errors.Join(failed...))
		}
		return errInputDone
	}
	fmt.Fprintf(in.out, "\nServing %s; Ctrl-C stops.\n", baseURL(cfg))
	return nil
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// summarise prints what was read, diagnosed and dead-lettered.
func (e *embeddedPipeline) summarise(w io.Writer, read []string, reg *prometheus.Registry, took time.Duration) {
	fmt.Fprintln(w, "Input:")
	for _, line := range read {
		fmt.Fprintln(w, "  "+line)
	}
	signIns := counters(reg, "signindiag_signins_diagnosed_total")[""]
	findings := counters(reg, "signindiag_findings_total")
	fmt.Fprintf(w, "Diagnosed %.0f sign-ins in %s; findings by scenario:\n", signIns, took.Round(time.Millisecond))
	for _, k := range sortedKeys(findings) {
		fmt.Fprintf(w, "  %-40s %.0f\n", k, findings[k])
	}
	dead := e.deadLetters.Counts()
	total := 0
	for _, n := range dead {
		total += n
	}
	if total == 0 {
		fmt.Fprintln(w, "Dead letters: none")
		return
	}
	fmt.Fprintf(w, "Dead letters: %d, written to %s, by reason:\n", total, e.deadLetters.Path())
	for _, k := range sortedKeys(dead) {
		fmt.Fprintf(w, "  %-40s %d\n", k, dead[k])
	}
}

// counters reads a counter family from reg by its one label's value ("":
// no label).
func counters(reg *prometheus.Registry, name string) map[string]float64 {
	out := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		return out
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			label := ""
			if len(m.GetLabel()) > 0 {
				label = m.GetLabel()[0].GetValue()
			}
			out[label] += m.GetCounter().GetValue()
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func baseURL(cfg *Config) string {
	host := cfg.HTTPAddr
	if strings.HasPrefix(host, ":") {
		host = "127.0.0.1" + host
	}
	scheme := "http"
	if cfg.HTTP.TLSCertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + host
}

// printLookups finds, in what the demo stored, a sign-in blocked by
// Conditional Access, a user under password spray and a flagged sign-in,
// and prints the API calls that show them, so the first click shows
// something.
func printLookups(ctx context.Context, w io.Writer, store sinks.Store, cfg *Config, log *slog.Logger) {
	base := baseURL(cfg)
	now := time.Now().UTC()
	find := func(scenario string) *example {
		fs, err := store.ListFindings(ctx, sinks.FindingListQuery{Scenario: scenario, From: now.Add(-7 * 24 * time.Hour), To: now.Add(time.Hour), Limit: 1})
		if err != nil {
			log.Warn("demo lookup", "scenario", scenario, "err", err)
			return nil
		}
		if len(fs) == 0 {
			return nil
		}
		return &example{correlationID: fs[0].CorrelationID, user: fs[0].UserPrincipalName, at: fs[0].OccurredAt}
	}
	fmt.Fprintf(w, "\nThe diagnostic page: %s/\nReady-made lookups:\n", base)
	if f := find(rules.ScenarioBlockedByConditionalAccess); f != nil {
		fmt.Fprintf(w, "  a sign-in blocked by Conditional Access:\n    curl '%s/v1/diagnose?correlationId=%s'\n", base, url.QueryEscape(f.correlationID))
	}
	if f := sprayed(ctx, store, now, log); f != nil {
		fmt.Fprintf(w, "  a user under password spray:\n    curl '%s/v1/diagnose?user=%s&at=%s'\n", base,
			url.QueryEscape(f.user), f.at.Format(time.RFC3339))
	}
	if flagged, err := store.Flagged(ctx, sinks.FlaggedQuery{Limit: 1}); err == nil && len(flagged) > 0 {
		fmt.Fprintf(w, "  a flagged sign-in:\n    curl '%s/v1/diagnose?correlationId=%s'\n  the flagged queue:\n    curl '%s/v1/flagged'\n",
			base, url.QueryEscape(flagged[0].SignIn.CorrelationID), base)
	}
	if cfg.API.Keys != "" {
		fmt.Fprintln(w, "  (add -H 'Authorization: Bearer <token>' with a token of SIGNINDIAG_API_KEYS)")
	}
}

// sprayed finds a user whose failed sign-in belongs to the latest
// password-spray incident (incidents are keyed by the spraying IP).
func sprayed(ctx context.Context, store sinks.Store, now time.Time, log *slog.Logger) *example {
	incs, err := store.Incidents(ctx, sinks.IncidentQuery{Detection: rules.ScenarioPasswordSpray, From: now.Add(-7 * 24 * time.Hour), To: now.Add(time.Hour), Limit: 1})
	if err != nil || len(incs) == 0 {
		if err != nil {
			log.Warn("demo lookup", "detection", rules.ScenarioPasswordSpray, "err", err)
		}
		return nil
	}
	inc := incs[0]
	signIns, err := store.ListSignIns(ctx, sinks.SignInListQuery{IP: inc.Key, From: inc.First, To: inc.Last, Limit: 1})
	if err != nil || len(signIns) == 0 || signIns[0].UserPrincipalName == "" {
		return nil
	}
	return &example{user: signIns[0].UserPrincipalName, at: signIns[0].CreatedDateTime}
}

// example is a stored finding the demo points at.
type example struct {
	correlationID, user string
	at                  time.Time
}

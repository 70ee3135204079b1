package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/signindiag/signindiag/loadgen"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas/entra"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/clickhouse"
)

const (
	// loadBatch is the number of rows per insert: large blocks are what
	// ClickHouse ingests best.
	loadBatch = 200_000
	// templates is how many sign-ins the load generator renders and the
	// rules engine diagnoses; the loaded rows are drawn from them.
	templates = 100_000
	// duplicateRate is the fraction of rows stored twice, as replays
	// leave them before ClickHouse merges.
	duplicateRate = 0.005
)

// sampleFacts renders sign-ins with the load generator's realistic
// tenant (interactive, non-interactive and service-principal sign-ins;
// bad passwords, CA blocks, MFA, lockouts, expired secrets; spray and
// MFA-fatigue bursts with their attacker IPs and countries), diagnoses
// each with the rules engine for its scenario, and returns their
// signin_facts rows as the pipeline stores them.
func sampleFacts(n int) ([]clickhouse.FactRow, error) {
	cfg := loadgen.DefaultConfig()
	cfg.Seed, cfg.Count, cfg.Shape, cfg.Users, cfg.Apps = 10, n, loadgen.ShapeGraph, 20000, 40
	cfg.DuplicateRate, cfg.FlagRate = 0, 0
	gen, err := loadgen.New(cfg)
	if err != nil {
		return nil, err
	}
	cat := catalog.Default()
	engine := rules.NewEngine(rules.Config{}, cat)
	var out []clickhouse.FactRow
	for {
		msg, ok := gen.Next()
		if !ok {
			return out, nil
		}
		if msg.Topic != loadgen.TopicSignIns {
			continue
		}
		decoded, err := entra.DecodeSignIns(msg.Value)
		if err != nil {
			return nil, fmt.Errorf("decode generated message: %w", err)
		}
		for _, d := range decoded {
			if d.Err != nil {
				return nil, fmt.Errorf("decode generated sign-in: %w", d.Err)
			}
			rec := sinks.SignInRecord{SignIn: *d.SignIn, IsFailure: cat.IsFailure(d.SignIn.Status.ErrorCode)}
			scenario := ""
			if fs := engine.Evaluate(rules.Input{SignIn: d.SignIn, IsFailure: rec.IsFailure, Window: 48 * time.Hour}); len(fs) > 0 {
				scenario = fs[0].Scenario
			}
			out = append(out, clickhouse.FactOf(&rec, scenario))
		}
	}
}

// load fills signin_facts with n rows over span before end: each a
// rendered sign-in (drawn at random) moved to its own time and given its
// own id, so the mix of codes, apps, client apps, countries, IPs and
// users is the generator's while the volume is the benchmark's. Times
// follow a working-day curve (busier on weekdays from 7:00 to 19:00).
func load(ctx context.Context, st *clickhouse.Store, n int, end time.Time, span time.Duration, log *slog.Logger) error {
	began := time.Now()
	sample, err := sampleFacts(templates)
	if err != nil {
		return err
	}
	failures := 0
	for _, f := range sample {
		if f.IsFailure {
			failures++
		}
	}
	log.Info("bench-spikes: rendered the sample", "sign_ins", len(sample), "failures", failures, "elapsed", time.Since(began).Round(time.Second))
	r := rand.New(rand.NewPCG(10, 20)) //nolint:gosec // seeded on purpose: the same load every run
	start := end.Add(-span)
	batch := make([]clickhouse.FactRow, 0, loadBatch+loadBatch/100)
	for i := 0; i < n; {
		batch = batch[:0]
		for ; i < n && len(batch) < loadBatch; i++ {
			f := sample[r.IntN(len(sample))]
			f.At = busyTime(r, start, span)
			f.SID = clickhouse.SignInHash("bench/" + strconv.Itoa(i))
			batch = append(batch, f)
			if r.Float64() < duplicateRate {
				batch = append(batch, f)
			}
		}
		if err := st.WriteFacts(ctx, batch); err != nil {
			return err
		}
		log.Info("bench-spikes: loading", "sign_ins", i, "elapsed", time.Since(began).Round(time.Second))
	}
	return nil
}

// busyTime draws an event time in [start, start+span): by rejection, a
// weekday working hour is four times as likely as a night or weekend one.
func busyTime(r *rand.Rand, start time.Time, span time.Duration) time.Time {
	for {
		t := start.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Millisecond)
		busy := t.Weekday() != time.Saturday && t.Weekday() != time.Sunday && t.Hour() >= 7 && t.Hour() < 19
		if busy || r.IntN(4) == 0 {
			return t
		}
	}
}

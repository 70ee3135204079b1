// Package spray is the per-IP stage: it reads failed sign-ins keyed by
// source IP (rekey publishes the candidates) and counts, per IP, the
// distinct users failing within the spray window. The failure that brings
// an IP to the threshold raises password_spray. Like diagnose, it stores
// what its windows saw (ip_failures) and rebuilds them from storage, up to
// the committed offset, when it takes over a partition.
package spray

import (
	"context"
	"fmt"
	"time"

	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/pipeline/window"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks"
)

// Store is what the stage needs from storage.
type Store interface {
	sinks.Writer
	sinks.IPFailureSource
}

// Counters the stage reports to; implemented by pipeline.Metrics.
type Counters interface {
	Finding(scenario string)
	Late()
	Malformed()
}

// Processor handles one partition of the IP-keyed topic.
type Processor struct {
	rule     *rules.SprayRule
	window   time.Duration
	store    Store
	counters Counters
	shard    int
	users    *window.Distinct
	batch    sinks.Batch
	records  int
}

// NewProcessor returns a processor for partition shard.
func NewProcessor(cfg rules.SprayConfig, allowedLateness time.Duration, shard int, store Store, counters Counters) *Processor {
	return &Processor{rule: rules.NewSprayRule(cfg), window: cfg.Window, store: store, counters: counters, shard: shard,
		users: window.NewDistinct(cfg.Window, allowedLateness)}
}

// Warm rebuilds the per-IP windows from storage.
func (p *Processor) Warm(ctx context.Context, claim *source.Claim) (int, error) {
	recent, err := p.store.RecentIPFailures(ctx, p.shard, claim.Committed, 2*p.window)
	if err != nil {
		return 0, fmt.Errorf("warm up IP windows: %w", err)
	}
	for _, r := range recent {
		p.users.Observe(r.IP, r.UserKey, r.Identity, r.At)
	}
	return len(recent), nil
}

// Process handles one failed sign-in.
func (p *Processor) Process(_ context.Context, rec source.Record) error {
	p.records++
	var candidate wire.SprayCandidate
	if err := wire.DecodeSprayCandidate(rec.Value, &candidate); err != nil {
		p.counters.Malformed()
		return nil
	}
	si := candidate.SignIn() // partial: only the fields the spray rule and finding read
	if !p.rule.Candidate(si) {
		return nil
	}
	c := p.users.Observe(si.IPAddress, si.UserKey(), si.Identity(), si.CreatedDateTime)
	if c.Late {
		p.counters.Late()
	}
	p.batch.IPFailures = append(p.batch.IPFailures, sinks.IPFailureRecord{IP: si.IPAddress, UserKey: si.UserKey(),
		Identity: si.Identity(), At: si.CreatedDateTime, Shard: p.shard, Offset: rec.Offset})
	if f, ok := p.rule.Evaluate(rules.SprayInput{SignIn: si, Users: c.After, UsersBefore: c.Before}); ok {
		p.batch.Findings = append(p.batch.Findings, f)
		p.counters.Finding(f.Scenario)
	}
	return nil
}

// Pending counts records read since the last flush.
func (p *Processor) Pending() int { return p.records }

// Flush stores the batch and evicts what the windows no longer need.
func (p *Processor) Flush(ctx context.Context) error {
	if err := p.store.Write(ctx, &p.batch); err != nil {
		return err
	}
	p.batch = sinks.Batch{}
	p.records = 0
	p.users.Evict()
	return nil
}

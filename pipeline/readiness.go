package pipeline

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signindiag/signindiag/health"
)

// Stages, in pipeline order.
var Stages = []string{"rekey", "diagnose", "spray"}

// ReadinessConfig bounds what readiness tolerates.
type ReadinessConfig struct {
	// FlushFailing: a stage whose flushes have been failing for longer,
	// or whose consumer group has been without an assignment for longer
	// (a rejoin loop), makes the process not ready.
	FlushFailing time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Readiness tracks, per stage, what /readyz and the stage metrics report:
// the group's assignment, the last successful flush and commit, the last
// failed flush, partitions warming up, and the lag behind the high-water
// marks. The consume loop, the groups and the runner report to it; all
// methods are safe on a nil *Readiness (they do nothing).
type Readiness struct {
	cfg ReadinessConfig

	mu     sync.Mutex
	stages map[string]*stageState
	resets map[string]int64 // offset resets by stage

	offsetResets *prometheus.Desc

	lastFlushAge, failureAge, failing, lag, partitions *prometheus.Desc
}

type stageState struct {
	assigned     bool      // the group was joined and assigned at least once
	inGeneration bool      // a generation is running now
	outSince     time.Time // when the last generation ended
	lastFlush    time.Time // last successful flush and commit
	lastFailure  time.Time // last failed flush attempt
	parts        map[partitionKey]*partitionState
}

type partitionKey struct {
	topic     string
	partition int
}

type partitionState struct {
	failingSince time.Time // zero when the last flush succeeded
	warming      bool
	lag          int64
}

// NewReadiness returns a tracker of the three stages.
func NewReadiness(cfg ReadinessConfig) *Readiness {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Readiness{cfg: cfg, stages: map[string]*stageState{}, resets: map[string]int64{},
		offsetResets: prometheus.NewDesc("signindiag_offset_resets_total",
			"Times a partition reader of the stage skipped ahead because its offset fell off the log's retention.", []string{"stage"}, nil),
		lastFlushAge: prometheus.NewDesc("signindiag_stage_last_flush_age_seconds",
			"Seconds since the stage last made a batch durable and committed it (absent before the first).", []string{"stage"}, nil),
		failureAge: prometheus.NewDesc("signindiag_stage_last_flush_failure_age_seconds",
			"Seconds since a flush of the stage last failed (absent before the first failure).", []string{"stage"}, nil),
		failing: prometheus.NewDesc("signindiag_stage_flush_failing_seconds",
			"How long the stage's oldest failing partition has been failing to flush; 0 when every flush succeeds.", []string{"stage"}, nil),
		lag: prometheus.NewDesc("signindiag_stage_lag_records",
			"Records behind the high-water marks of the partitions the stage holds, as of their last flush.", []string{"stage"}, nil),
		partitions: prometheus.NewDesc("signindiag_stage_partitions_warming",
			"Partitions of the stage rebuilding their windows from storage.", []string{"stage"}, nil),
	}
	for _, s := range Stages {
		r.stages[s] = &stageState{parts: map[partitionKey]*partitionState{}}
	}
	return r
}

// stage returns the state of a stage, creating it for a name not in
// Stages; call with mu held.
func (r *Readiness) stage(name string) *stageState {
	s := r.stages[name]
	if s == nil {
		s = &stageState{parts: map[partitionKey]*partitionState{}}
		r.stages[name] = s
	}
	return s
}

func (r *Readiness) partition(stage, topic string, partition int) *partitionState {
	s := r.stage(stage)
	k := partitionKey{topic, partition}
	p := s.parts[k]
	if p == nil {
		p = &partitionState{lag: -1}
		s.parts[k] = p
	}
	return p
}

// GroupObserver returns what a stage's consumer group reports to.
func (r *Readiness) GroupObserver(stage string) *GroupObserver {
	return &GroupObserver{r: r, stage: stage}
}

// GroupObserver adapts Readiness to source.Observer for one stage.
type GroupObserver struct {
	r     *Readiness
	stage string
}

// Assigned records a new generation (with any number of partitions: a
// member holding none because others hold them all is fine).
func (o *GroupObserver) Assigned(int) {
	if o == nil || o.r == nil {
		return
	}
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	s := o.r.stage(o.stage)
	s.assigned, s.inGeneration = true, true
}

// Unassigned records the end of a generation.
func (o *GroupObserver) Unassigned() {
	if o == nil || o.r == nil {
		return
	}
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	s := o.r.stage(o.stage)
	if s.inGeneration {
		s.inGeneration, s.outSince = false, o.r.cfg.Now()
	}
}

// OffsetReset counts a reader that skipped records lost to retention.
func (o *GroupObserver) OffsetReset(string, int, int64) {
	if o == nil || o.r == nil {
		return
	}
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	o.r.resets[o.stage]++
}

// FlushSucceeded records a batch made durable and committed; lag is the
// partition's records behind its high-water mark, or -1 when unknown.
func (r *Readiness) FlushSucceeded(stage, topic string, partition int, lag int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stage(stage).lastFlush = r.cfg.Now()
	p := r.partition(stage, topic, partition)
	p.failingSince = time.Time{}
	if lag >= 0 {
		p.lag = lag
	}
}

// FlushFailed records a failed flush attempt.
func (r *Readiness) FlushFailed(stage, topic string, partition int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	r.stage(stage).lastFailure = now
	if p := r.partition(stage, topic, partition); p.failingSince.IsZero() {
		p.failingSince = now
	}
}

// Warming records that a partition is (or no longer is) rebuilding its
// windows; the consume loop reports it again from its first flush on.
func (r *Readiness) Warming(stage, topic string, partition int, warming bool) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if warming {
		r.partition(stage, topic, partition).warming = true
	} else {
		delete(r.stage(stage).parts, partitionKey{topic, partition})
	}
}

// Released forgets a partition the process gave up.
func (r *Readiness) Released(stage, topic string, partition int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.stage(stage).parts, partitionKey{topic, partition})
}

// StageStatus is one stage's health, as /readyz shows it.
type StageStatus struct {
	Stage string `json:"stage"`
	// Assigned: the stage's group was joined and assigned at least once.
	Assigned bool `json:"assigned"`
	// Partitions held that are warming up or have flushed.
	Partitions int `json:"partitions"`
	Warming    int `json:"warming"`
	// LastFlushAgeSeconds and LastFlushFailureAgeSeconds are absent
	// before the first flush or failure.
	LastFlushAgeSeconds        *float64 `json:"lastFlushAgeSeconds,omitempty"`
	LastFlushFailureAgeSeconds *float64 `json:"lastFlushFailureAgeSeconds,omitempty"`
	FlushFailingSeconds        float64  `json:"flushFailingSeconds"`
	// Lag is the records behind the high-water marks of the partitions
	// held, as of their last flush.
	Lag int64 `json:"lag"`

	outOfGroup time.Duration // how long since the last generation ended, while in none
}

// Stages reports every stage, in pipeline order.
func (r *Readiness) Stages() []StageStatus {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	names := make([]string, 0, len(r.stages))
	for name := range r.stages {
		names = append(names, name)
	}
	order := map[string]int{}
	for i, s := range Stages {
		order[s] = i + 1
	}
	sort.Slice(names, func(i, j int) bool {
		oi, oj := order[names[i]], order[names[j]]
		if oi != oj {
			return oi != 0 && (oj == 0 || oi < oj)
		}
		return names[i] < names[j]
	})
	out := make([]StageStatus, 0, len(names))
	for _, name := range names {
		s := r.stages[name]
		st := StageStatus{Stage: name, Assigned: s.assigned, Partitions: len(s.parts)}
		if !s.lastFlush.IsZero() {
			age := now.Sub(s.lastFlush).Seconds()
			st.LastFlushAgeSeconds = &age
		}
		if !s.lastFailure.IsZero() {
			age := now.Sub(s.lastFailure).Seconds()
			st.LastFlushFailureAgeSeconds = &age
		}
		for _, p := range s.parts {
			if p.warming {
				st.Warming++
			}
			if !p.failingSince.IsZero() {
				st.FlushFailingSeconds = max(st.FlushFailingSeconds, now.Sub(p.failingSince).Seconds())
			}
			if p.lag > 0 {
				st.Lag += p.lag
			}
		}
		if s.assigned && !s.inGeneration {
			st.outOfGroup = now.Sub(s.outSince)
		}
		out = append(out, st)
	}
	return out
}

// Check returns nil when every stage is ready, or health.Problems naming
// each stage that is not and why.
func (r *Readiness) Check() error {
	if r == nil {
		return nil
	}
	var ps health.Problems
	bound := r.cfg.FlushFailing
	for _, st := range r.Stages() {
		switch {
		case !st.Assigned:
			ps = append(ps, health.Problem{Stage: st.Stage, Reason: "consumer group not joined yet"})
		case st.outOfGroup > bound:
			ps = append(ps, health.Problem{Stage: st.Stage, Reason: "consumer group rejoining for " + seconds(st.outOfGroup)})
		}
		if failing := time.Duration(st.FlushFailingSeconds * float64(time.Second)); failing > bound {
			ps = append(ps, health.Problem{Stage: st.Stage, Reason: "flushes failing for " + seconds(failing)})
		}
		if st.Warming > 0 {
			ps = append(ps, health.Problem{Stage: st.Stage, Reason: fmt.Sprintf("%d partitions warming up their windows", st.Warming)})
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// seconds renders a duration in whole seconds ("45s", "2m5s").
func seconds(d time.Duration) string { return d.Truncate(time.Second).String() }

// Describe implements prometheus.Collector.
func (r *Readiness) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{r.lastFlushAge, r.failureAge, r.failing, r.lag, r.partitions, r.offsetResets} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: ages are computed when scraped.
func (r *Readiness) Collect(ch chan<- prometheus.Metric) {
	for _, st := range r.Stages() {
		if st.LastFlushAgeSeconds != nil {
			ch <- prometheus.MustNewConstMetric(r.lastFlushAge, prometheus.GaugeValue, *st.LastFlushAgeSeconds, st.Stage)
		}
		if st.LastFlushFailureAgeSeconds != nil {
			ch <- prometheus.MustNewConstMetric(r.failureAge, prometheus.GaugeValue, *st.LastFlushFailureAgeSeconds, st.Stage)
		}
		ch <- prometheus.MustNewConstMetric(r.failing, prometheus.GaugeValue, st.FlushFailingSeconds, st.Stage)
		ch <- prometheus.MustNewConstMetric(r.lag, prometheus.GaugeValue, float64(st.Lag), st.Stage)
		ch <- prometheus.MustNewConstMetric(r.partitions, prometheus.GaugeValue, float64(st.Warming), st.Stage)
		r.mu.Lock()
		resets := r.resets[st.Stage]
		r.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(r.offsetResets, prometheus.CounterValue, float64(resets), st.Stage)
	}
}

// lagger is a claim that knows how far it is behind the high-water mark
// (*source.Claim does, from its last fetch, without a request).
type lagger interface{ Lag() int64 }

// reportFlushed tells readiness the loop's batch is durable and committed.
func (l *loop) reportFlushed() {
	lag := int64(-1)
	if c, ok := l.claim.(lagger); ok {
		lag = c.Lag()
	}
	l.metrics.readiness.FlushSucceeded(l.stage, l.topic, l.partition, lag)
}

// reportFlushFailed tells readiness a flush attempt failed; the write's
// goroutine calls it.
func (l *loop) reportFlushFailed() {
	l.metrics.readiness.FlushFailed(l.stage, l.topic, l.partition)
}

// reportReleased tells readiness the loop gave its partition up.
func (l *loop) reportReleased() {
	l.metrics.readiness.Released(l.stage, l.topic, l.partition)
}

package spikedetect

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/signindiag/signindiag/spikes/report"
)

// Metrics export each round's view as gauges, for Grafana and alerting
// rules: per dimension and value (the Top values of each dimension, so at
// most 7 × Top series per gauge), the last complete bucket's failures,
// baseline and score, and whether a spike episode is open. Each round
// replaces the previous round's series, so a value that left the top N
// disappears rather than freezing at its last value.
type Metrics struct {
	Failures *prometheus.GaugeVec
	Baseline *prometheus.GaugeVec
	Score    *prometheus.GaugeVec
	Active   *prometheus.GaugeVec
	Rounds   *prometheus.CounterVec
}

// NewMetrics registers the detector's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	labels := []string{"dimension", "value"}
	return &Metrics{
		Failures: f.NewGaugeVec(prometheus.GaugeOpts{Name: "signindiag_spike_bucket_failures",
			Help: "Distinct failed sign-ins in the last complete bucket, by dimension and value (top values only)."}, labels),
		Baseline: f.NewGaugeVec(prometheus.GaugeOpts{Name: "signindiag_spike_bucket_baseline",
			Help: "Expected failures in the last complete bucket (same slot in previous weeks, scaled by the day's level)."}, labels),
		Score: f.NewGaugeVec(prometheus.GaugeOpts{Name: "signindiag_spike_bucket_score",
			Help: "Robust z-score of the last complete bucket's failures against the baseline."}, labels),
		Active: f.NewGaugeVec(prometheus.GaugeOpts{Name: "signindiag_spike_active",
			Help: "1 while a failure spike episode of the dimension and value is open (a failure_spike incident is raised when it starts)."}, labels),
		Rounds: f.NewCounterVec(prometheus.CounterOpts{Name: "signindiag_spike_detection_rounds_total",
			Help: "Evaluation rounds of the failure_spike detector, by result (ok, error)."}, []string{"result"}),
	}
}

// observe replaces the gauges with one round's reports.
func (m *Metrics) observe(reps []*report.Report, now time.Time, step time.Duration, gap int) {
	if m == nil {
		return
	}
	for _, g := range []*prometheus.GaugeVec{m.Failures, m.Baseline, m.Score, m.Active} {
		g.Reset()
	}
	for _, rep := range reps {
		for _, s := range rep.Series {
			last := -1
			for i, b := range s.Buckets {
				if !b.Start.Add(step).After(now) {
					last = i
				}
			}
			if last < 0 {
				continue
			}
			b := s.Buckets[last]
			l := []string{string(rep.By), s.Value}
			m.Failures.WithLabelValues(l...).Set(float64(b.Count))
			m.Baseline.WithLabelValues(l...).Set(b.Baseline)
			m.Score.WithLabelValues(l...).Set(b.Score)
			active := 0.0
			for i := len(s.Buckets) - 1; i >= 0 && i >= len(s.Buckets)-1-gap-1; i-- {
				if s.Buckets[i].Spike {
					active = 1
				}
			}
			m.Active.WithLabelValues(l...).Set(active)
		}
	}
}

func (m *Metrics) round(err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.Rounds.WithLabelValues("error").Inc()
		return
	}
	m.Rounds.WithLabelValues("ok").Inc()
}

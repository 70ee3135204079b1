package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/signindiag/signindiag/pipeline/window"
)

// Metrics of the three stages (rekey, diagnose, spray). Labels stay bounded: stage, reason, scenario;
// never a user or an IP.
type Metrics struct {
	RecordsConsumed   *prometheus.CounterVec
	DeadLettered      *prometheus.CounterVec
	SignIns           prometheus.Counter
	Flags             prometheus.Counter
	Findings          *prometheus.CounterVec
	FlushDuration     *prometheus.HistogramVec
	FlushErrors       *prometheus.CounterVec
	Commits           *prometheus.CounterVec
	CommitErrors      *prometheus.CounterVec
	ConsumptionLag    *prometheus.HistogramVec
	VisibleLatency    *prometheus.HistogramVec
	PartitionsHeld    *prometheus.GaugeVec
	PartitionsWarming prometheus.Gauge
	WindowKeys        prometheus.Gauge
	WindowLate        prometheus.Counter
	WindowEvicted     prometheus.Counter

	// readiness, when set, hears of every flush (AttachReadiness).
	readiness *Readiness
}

// AttachReadiness makes the consume loops report flushes, failures and
// lag to r.
func (m *Metrics) AttachReadiness(r *Readiness) { m.readiness = r }

// NewMetrics registers the pipeline's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		RecordsConsumed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "signindiag_records_consumed_total", Help: "Kafka records read, by stage.",
		}, []string{"stage"}),
		DeadLettered: f.NewCounterVec(prometheus.CounterOpts{
			Name: "signindiag_records_deadlettered_total", Help: "Records sent to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		SignIns: f.NewCounter(prometheus.CounterOpts{
			Name: "signindiag_signins_diagnosed_total", Help: "Sign-ins run through the window and the rules.",
		}),
		Flags: f.NewCounter(prometheus.CounterOpts{
			Name: "signindiag_flags_total", Help: "Flag events stored.",
		}),
		Findings: f.NewCounterVec(prometheus.CounterOpts{
			Name: "signindiag_findings_total", Help: "Findings emitted, by scenario (replays count again).",
		}, []string{"scenario"}),
		FlushDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "signindiag_flush_duration_seconds", Help: "Time to make a batch durable, by stage.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
		}, []string{"stage"}),
		FlushErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "signindiag_flush_errors_total", Help: "Failed flush attempts (retried), by stage.",
		}, []string{"stage"}),
		Commits: f.NewCounterVec(prometheus.CounterOpts{
			Name: "signindiag_offset_commits_total", Help: "Offset commits, by stage.",
		}, []string{"stage"}),
		CommitErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "signindiag_offset_commit_errors_total", Help: "Failed offset commits, by stage.",
		}, []string{"stage"}),
		ConsumptionLag: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "signindiag_consumption_lag_seconds", Help: "Record age when read (now minus Kafka timestamp), by stage.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}, []string{"stage"}),
		VisibleLatency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "signindiag_visible_latency_seconds",
			Help: "From a record's produce time on the input topic (carried through the internal topics) until the stage made it durable, by stage.",
			// Fine steps from 10 ms to ~80 s: the target is seconds.
			Buckets: prometheus.ExponentialBuckets(0.01, 1.25, 41),
		}, []string{"stage"}),
		PartitionsHeld: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signindiag_partitions_held", Help: "Partitions this process consumes, by stage.",
		}, []string{"stage"}),
		PartitionsWarming: f.NewGauge(prometheus.GaugeOpts{
			Name: "signindiag_partitions_warming", Help: "Partitions (diagnose and spray stages) still rebuilding their windows from storage.",
		}),
		WindowKeys: f.NewGauge(prometheus.GaugeOpts{
			Name: "signindiag_window_users", Help: "Users with failures in the live per-user windows (diagnose stage).",
		}),
		WindowLate: f.NewCounter(prometheus.CounterOpts{
			Name: "signindiag_window_late_events_total", Help: "Failures too late for the live per-user or per-IP windows (still stored).",
		}),
		WindowEvicted: f.NewCounter(prometheus.CounterOpts{
			Name: "signindiag_window_evicted_total", Help: "Failures evicted from the live per-user windows (diagnose stage).",
		}),
	}
}

// The stages report through these methods (rekey.Counters,
// diagnose.Counters, spray.Counters), so they stay free of Prometheus.

// DeadLetter counts a rejected record.
func (m *Metrics) DeadLetter(reason string) { m.DeadLettered.WithLabelValues(reason).Inc() }

// SignIn counts a diagnosed sign-in.
func (m *Metrics) SignIn() { m.SignIns.Inc() }

// Flag counts a stored flag.
func (m *Metrics) Flag() { m.Flags.Inc() }

// Finding counts an emitted finding.
func (m *Metrics) Finding(scenario string) { m.Findings.WithLabelValues(scenario).Inc() }

// Late counts a failure too late for the live window.
func (m *Metrics) Late() { m.WindowLate.Inc() }

// WindowChange tracks the live windows' size.
func (m *Metrics) WindowChange(keysDelta, evicted int) {
	m.WindowKeys.Add(float64(keysDelta))
	m.WindowEvicted.Add(float64(evicted))
}

// Malformed counts an undecodable record on an internal keyed topic (user- or IP-keyed).
func (m *Metrics) Malformed() { m.DeadLettered.WithLabelValues("keyed_topic_malformed").Inc() }

// KeyBudgetCollector exports a window.Budget: the keys tracked, the
// bound, and the new keys refused past it.
func KeyBudgetCollector(b *window.Budget) prometheus.Collector { return keyBudgetCollector{b} }

type keyBudgetCollector struct{ b *window.Budget }

var (
	keysTrackedDesc = prometheus.NewDesc("signindiag_window_keys_tracked",
		"Users the process's failure windows track now (all partitions).", nil, nil)
	keysLimitDesc = prometheus.NewDesc("signindiag_window_keys_limit",
		"The bound on tracked users (SIGNINDIAG_MAX_WINDOW_KEYS; 0: none).", nil, nil)
	keysRefusedDesc = prometheus.NewDesc("signindiag_window_keys_refused_total",
		"New users not tracked because the bound was reached: their failures are stored, their findings' counts marked partial.", nil, nil)
)

func (c keyBudgetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- keysTrackedDesc
	ch <- keysLimitDesc
	ch <- keysRefusedDesc
}

func (c keyBudgetCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(keysTrackedDesc, prometheus.GaugeValue, float64(c.b.Used()))
	ch <- prometheus.MustNewConstMetric(keysLimitDesc, prometheus.GaugeValue, float64(max(c.b.Limit(), 0)))
	ch <- prometheus.MustNewConstMetric(keysRefusedDesc, prometheus.CounterValue, float64(c.b.Refused()))
}

package pipeline

import (
	"context"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/signindiag/signindiag/pipeline/diagnose"
	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/poison"
	"github.com/signindiag/signindiag/pipeline/publish"
	"github.com/signindiag/signindiag/pipeline/rekey"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/pipeline/spray"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
)

// Config of the whole ingestion.
type Config struct {
	// Source is the cluster of the sign-in and flag topics (an Event Hubs
	// namespace, say); Internal the cluster of the topics signindiag
	// writes (keyed, by-IP, dead letters) and reads back. Internal with no
	// brokers means Source.
	Source          kafkaconn.Cluster
	Internal        kafkaconn.Cluster
	Group           string
	SignInTopic     string
	FlagTopic       string
	DeadLetterTopic string
	KeyedTopic      string
	IPTopic         string
	Partitions      int
	SessionTimeout  time.Duration
	// CreateTopics creates the missing input topics on Source;
	// CreateInternalTopics the missing internal ones. Off, start-up checks
	// that they exist and names those that do not.
	CreateTopics         bool
	CreateInternalTopics bool
	MaxMessageBytes      int
	// Compression names the codec of produced batches (Compressions).
	Compression string
	// StorageDeadLetterTopic receives the records storage rejects
	// (pipeline/poison).
	StorageDeadLetterTopic string
	// EventTime bounds the sign-ins' createdDateTime (rekey dead-letters
	// the others as time_out_of_range).
	EventTime       rekey.TimeBounds
	Window          time.Duration
	AllowedLateness time.Duration
	Fatigue         rules.FatigueConfig
	Spray           rules.SprayConfig
	// FailureThreshold raises excessive_failures_48h (0: its default);
	// FutureSkew bounds the incidents' watermark past the wall clock (0:
	// incident.DefaultFutureSkew). See detections.go.
	FailureThreshold int
	FutureSkew       time.Duration
	Loop             LoopConfig
	// ReadyFlushFailing bounds how long a stage's flushes may fail (or its
	// group go without an assignment) before the process is not ready.
	ReadyFlushFailing time.Duration
	// ReplicationFactor of the topics created; 0: min(3, brokers).
	ReplicationFactor int
}

// Compressions are the codecs a produced batch may use; "none" is 0.
var Compressions = map[string]kafka.Compression{
	"lz4": kafka.Lz4, "zstd": kafka.Zstd, "snappy": kafka.Snappy, "gzip": kafka.Gzip, "none": 0,
}

// DiagnoseGroup is the consumer group of the per-user stage.
func (c Config) DiagnoseGroup() string { return c.Group + "-diagnose" }

// SprayGroup is the consumer group of the per-IP stage.
func (c Config) SprayGroup() string { return c.Group + "-spray" }

// Runner runs the three stages (rekey, diagnose, spray) in one process;
// several processes with the same Config share the work through the
// consumer groups.
type Runner struct {
	cfg     Config
	store   Store
	engine  *rules.Engine
	catalog *catalog.Catalog
	metrics *Metrics
	log     *slog.Logger

	// poison is where the diagnose and spray stages send the records
	// storage rejects; its producer is set by Run.
	poison poison.Config

	ready *Readiness
}

// Store is what the stages need from storage.
type Store interface {
	diagnose.Store
	spray.Store
}

// NewRunner wires the stages.
func NewRunner(cfg Config, store Store, engine *rules.Engine, cat *catalog.Catalog, m *Metrics, log *slog.Logger) *Runner {
	ready := NewReadiness(ReadinessConfig{FlushFailing: cfg.ReadyFlushFailing})
	m.AttachReadiness(ready)
	return &Runner{cfg: cfg, store: store, engine: engine, catalog: cat, metrics: m, log: log, ready: ready}
}

// Readiness is what the stages report their health to (for /readyz and
// the stage metrics).
func (r *Runner) Readiness() *Readiness { return r.ready }

// Ready reports whether the runner consumes with trustworthy windows and
// durable progress (Readiness.Check): every stage's group joined, no
// partition warming up, no flush failing for longer than the bound.
func (r *Runner) Ready() error { return r.ready.Check() }

// Run consumes until ctx ends (then flushes, commits and returns nil) or
// a worker fails permanently.
func (r *Runner) Run(ctx context.Context) error {
	// A wrong password, an untrusted certificate or a listener speaking
	// another protocol fails here, fast and in one line, rather than in
	// consumers that retry for ever.
	for _, c := range r.clusters() {
		if err := c.Check(ctx); err != nil {
			return err
		}
	}
	if err := r.prepareTopics(ctx); err != nil {
		return err
	}
	// The keyed topics' limits bound the producer's batches, so the broker
	// never refuses one (a refused batch would be retried for ever).
	// A cluster that does not serve DescribeConfigs (a managed service
	// may not) gets the broker's default limit, which is also the limit
	// of Azure Event Hubs' Standard tier; connectivity and credentials
	// were checked above, so this error is not one of theirs.
	limits, err := publish.ReadLimits(ctx, r.internal(), []string{r.cfg.KeyedTopic, r.cfg.IPTopic, r.cfg.DeadLetterTopic,
		r.cfg.StorageDeadLetterTopic})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		r.log.Warn("cannot read the output topics' max.message.bytes; assuming the broker default", "err", err,
			"max_message_bytes", publish.DefaultMaxMessageBytes)
		limits = publish.Limits{}
	}
	writer := publish.New(publish.Config{Cluster: r.internal(), Limits: limits, Compression: Compressions[r.cfg.Compression]})
	defer writer.Close()
	r.log.Info("output topics", "keyed", r.cfg.KeyedTopic, "by_ip", r.cfg.IPTopic, "dead_letter", r.cfg.DeadLetterTopic,
		"storage_dead_letter", r.cfg.StorageDeadLetterTopic, "max_message_bytes", writer.MaxMessageBytes())
	r.poison = poison.Config{Topic: r.cfg.StorageDeadLetterTopic, Producer: writer, MaxBytes: writer.MaxMessageBytes(),
		Counters: r.metrics}

	g, ctx := errgroup.WithContext(ctx)
	sprayRule := rules.NewSprayRule(r.cfg.Spray)
	rekeyCfg := rekey.Config{SignInTopic: r.cfg.SignInTopic, FlagTopic: r.cfg.FlagTopic,
		KeyedTopic: r.cfg.KeyedTopic, DeadLetterTopic: r.cfg.DeadLetterTopic, MaxMessageBytes: r.cfg.MaxMessageBytes,
		MaxOutputBytes: writer.MaxMessageBytes(),
		IPTopic:        r.cfg.IPTopic, SprayCandidate: sprayRule.Candidate, Time: r.cfg.EventTime}
	g.Go(func() error {
		group := source.NewGroup(source.Config{Cluster: r.cfg.Source, GroupID: r.cfg.Group,
			Topics: []string{r.cfg.SignInTopic, r.cfg.FlagTopic}, SessionTimeout: r.cfg.SessionTimeout,
			Observer: r.ready.GroupObserver("rekey")}, r.log)
		return group.Run(ctx, func(ctx context.Context, c *source.Claim) error {
			return consume(ctx, "rekey", c, rekey.NewProcessor(rekeyCfg, writer, r.metrics), r.cfg.Loop, r.log, r.metrics)
		})
	})
	g.Go(func() error {
		group := source.NewGroup(source.Config{Cluster: r.internal(), GroupID: r.cfg.DiagnoseGroup(),
			Topics: []string{r.cfg.KeyedTopic}, SessionTimeout: r.cfg.SessionTimeout,
			Observer: r.ready.GroupObserver("diagnose")}, r.log)
		return group.Run(ctx, r.diagnose)
	})
	g.Go(func() error {
		group := source.NewGroup(source.Config{Cluster: r.internal(), GroupID: r.cfg.SprayGroup(),
			Topics: []string{r.cfg.IPTopic}, SessionTimeout: r.cfg.SessionTimeout,
			Observer: r.ready.GroupObserver("spray")}, r.log)
		return group.Run(ctx, r.spray)
	})
	return g.Wait()
}

func (r *Runner) spray(ctx context.Context, c *source.Claim) error {
	proc := spray.NewProcessor(spray.Config{Detections: r.cfg.Detections(), AllowedLateness: r.cfg.AllowedLateness,
		FutureSkew: r.cfg.FutureSkew, Poison: r.stagePoison("spray")}, c.Partition, r.store, r.metrics)
	if err := r.warm(ctx, "spray", c, proc); err != nil {
		return err
	}
	return consume(ctx, "spray", c, proc, r.cfg.Loop, r.log, r.metrics)
}

func (r *Runner) diagnose(ctx context.Context, c *source.Claim) error {
	proc := diagnose.NewProcessor(diagnose.Config{Window: r.cfg.Window, AllowedLateness: r.cfg.AllowedLateness,
		Detections: r.cfg.Detections(), FutureSkew: r.cfg.FutureSkew, Poison: r.stagePoison("diagnose")},
		c.Partition, r.store, r.engine, r.catalog, r.metrics)
	defer proc.Close()
	if err := r.warm(ctx, "diagnose", c, proc); err != nil {
		return err
	}
	return consume(ctx, "diagnose", c, proc, r.cfg.Loop, r.log, r.metrics)
}

func (r *Runner) stagePoison(stage string) poison.Config {
	cfg := r.poison
	cfg.Log = r.log.With("stage", stage)
	return cfg
}

// warmer rebuilds a partition's windows from storage.
type warmer interface {
	Warm(ctx context.Context, c *source.Claim) (int, error)
}

// warm rebuilds the partition's windows, retrying while storage is away;
// the partition reports not ready until it is done.
func (r *Runner) warm(ctx context.Context, stage string, c *source.Claim, proc warmer) error {
	r.metrics.PartitionsWarming.Inc()
	r.ready.Warming(stage, c.Topic, c.Partition, true)
	defer func() {
		r.metrics.PartitionsWarming.Dec()
		r.ready.Warming(stage, c.Topic, c.Partition, false)
	}()
	start := time.Now()
	for {
		n, err := proc.Warm(ctx, c)
		if err == nil {
			r.log.Info("window warmed up", "partition", c.Partition, "committed", c.Committed,
				"failures", n, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		r.log.Warn("window warm-up failed; retrying", "partition", c.Partition, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

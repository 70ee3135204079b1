package pipeline

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/signindiag/signindiag/pipeline/diagnose"
	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/poison"
	"github.com/signindiag/signindiag/pipeline/rekey"
	"github.com/signindiag/signindiag/pipeline/spray"
	"github.com/signindiag/signindiag/pipeline/window"
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
	// MaxWindowKeys bounds the keys (users, IPs) the process's failure windows and incident trackers track
	// together (window.Budget); 0: no bound.
	MaxWindowKeys int
	// Transport carries the records; nil: Kafka, as Source and Internal
	// say (the Kafka settings above apply only then).
	Transport Transport
}

// Compressions are the codecs a produced batch may use; "none" is 0.
var Compressions = map[string]kafka.Compression{
	"lz4": kafka.Lz4, "zstd": kafka.Zstd, "snappy": kafka.Snappy, "gzip": kafka.Gzip, "none": 0,
}

// The consumer group of a stage is Config.Group followed by its suffix.
const (
	diagnoseGroupSuffix = "-diagnose"
	sprayGroupSuffix    = "-spray"
)

// DiagnoseGroup is the consumer group of the per-user stage.
func (c Config) DiagnoseGroup() string { return c.Group + diagnoseGroupSuffix }

// SprayGroup is the consumer group of the per-IP stage.
func (c Config) SprayGroup() string { return c.Group + sprayGroupSuffix }

// Runner runs the stages (Runner.stages: rekey, diagnose, spray) in one process;
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
	// keys is the one key budget of every worker's windows and incident trackers.
	keys *window.Budget
	// transport carries the records (Config.Transport, or Kafka).
	transport Transport
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
	r := &Runner{cfg: cfg, store: store, engine: engine, catalog: cat, metrics: m, log: log, ready: ready,
		keys: window.NewBudget(cfg.MaxWindowKeys), transport: cfg.Transport}
	if r.transport == nil {
		r.transport = kafkaTransport{r: r, log: log}
	}
	return r
}

// Readiness is what the stages report their health to (for /readyz and
// the stage metrics).
func (r *Runner) Readiness() *Readiness { return r.ready }

// KeyBudget is the bound on the keys the windows and trackers hold, for its metrics.
func (r *Runner) KeyBudget() *window.Budget { return r.keys }

// Ready reports whether the runner consumes with trustworthy windows and
// durable progress (Readiness.Check): every stage's group joined, no
// partition warming up, no flush failing for longer than the bound.
func (r *Runner) Ready() error { return r.ready.Check() }

// Run consumes until ctx ends (then flushes, commits and returns nil) or
// a worker fails permanently.
func (r *Runner) Run(ctx context.Context) error {
	out, err := r.transport.Start(ctx, r.topicSet())
	if err != nil {
		return err
	}
	defer out.Close()
	r.log.Info("output topics", "keyed", r.cfg.KeyedTopic, "by_ip", r.cfg.IPTopic, "dead_letter", r.cfg.DeadLetterTopic,
		"storage_dead_letter", r.cfg.StorageDeadLetterTopic, "max_message_bytes", out.MaxMessageBytes())
	r.poison = poison.Config{Topic: r.cfg.StorageDeadLetterTopic, Producer: out, MaxBytes: out.MaxMessageBytes(),
		Counters: r.metrics}

	g, ctx := errgroup.WithContext(ctx)
	for _, st := range r.stages() {
		sub := Subscription{Group: r.cfg.Group + st.groupSuffix, Topics: st.topics, ReadsInput: st.readsInput,
			Observer: r.ready.GroupObserver(st.name)}
		g.Go(func() error {
			return r.transport.Consume(ctx, sub, func(ctx context.Context, c Claim) error {
				return r.work(ctx, st, out, c)
			})
		})
	}
	return g.Wait()
}

// stage is one consumer group of the pipeline: the runner starts a group
// per stage and, for each partition the group is assigned, a worker that
// opens the stage's processor, warms it up when the stage keeps windows,
// and runs the per-partition loop (consume).
type stage struct {
	name string
	// groupSuffix follows Config.Group in the stage's consumer group.
	groupSuffix string
	// topics are read; outputs are produced to (their limits bound the
	// producer's batches). Both are created when missing.
	topics, outputs []string
	// readsInput: topics are on the input cluster (Config.Source), not
	// the internal one.
	readsInput bool
	// open builds the processor of one claimed partition.
	open func(out Output, partition int) partitionWorker
}

// partitionWorker is a stage's processor of one partition.
type partitionWorker struct {
	Processor
	// warm rebuilds the partition's state from what storage holds from
	// before the committed offset; nil when the stage keeps none.
	warm func(ctx context.Context, committed int64) (int, error)
	// close, when set, releases the processor once the worker ends.
	close func()
}

// stages is the pipeline: rekey (input topics → user- and IP-keyed
// topics), diagnose (per user) and spray (per IP).
func (r *Runner) stages() []stage {
	cfg := r.cfg
	sprayRule := rules.NewSprayRule(cfg.Spray)
	return []stage{
		{
			name: "rekey", topics: []string{cfg.SignInTopic, cfg.FlagTopic}, readsInput: true,
			outputs: []string{cfg.KeyedTopic, cfg.IPTopic, cfg.DeadLetterTopic},
			open: func(out Output, _ int) partitionWorker {
				return partitionWorker{Processor: rekey.NewProcessor(rekey.Config{SignInTopic: cfg.SignInTopic, FlagTopic: cfg.FlagTopic,
					KeyedTopic: cfg.KeyedTopic, DeadLetterTopic: cfg.DeadLetterTopic, MaxMessageBytes: cfg.MaxMessageBytes,
					MaxOutputBytes: out.MaxMessageBytes(),
					IPTopic:        cfg.IPTopic, SprayCandidate: sprayRule.Candidate, Time: cfg.EventTime}, out, r.metrics)}
			},
		},
		{
			name: "diagnose", groupSuffix: diagnoseGroupSuffix, topics: []string{cfg.KeyedTopic},
			outputs: []string{cfg.StorageDeadLetterTopic},
			open: func(_ Output, partition int) partitionWorker {
				p := diagnose.NewProcessor(diagnose.Config{Window: cfg.Window, AllowedLateness: cfg.AllowedLateness,
					Detections: cfg.Detections(), FutureSkew: cfg.FutureSkew, Poison: r.stagePoison("diagnose"), KeyBudget: r.keys},
					partition, r.store, r.engine, r.catalog, r.metrics)
				return partitionWorker{Processor: p, warm: p.Warm, close: p.Close}
			},
		},
		{
			name: "spray", groupSuffix: sprayGroupSuffix, topics: []string{cfg.IPTopic},
			outputs: []string{cfg.StorageDeadLetterTopic},
			open: func(_ Output, partition int) partitionWorker {
				p := spray.NewProcessor(spray.Config{Detections: cfg.Detections(), AllowedLateness: cfg.AllowedLateness,
					FutureSkew: cfg.FutureSkew, Poison: r.stagePoison("spray"), KeyBudget: r.keys}, partition, r.store, r.metrics)
				return partitionWorker{Processor: p, warm: p.Warm, close: p.Close}
			},
		},
	}
}

// topicSet names, once each, the topics the stages read from the input
// and the internal ones they write and read back.
func (r *Runner) topicSet() TopicSet {
	var ts TopicSet
	seen := map[string]bool{}
	add := func(list *[]string, names []string) {
		for _, t := range names {
			if !seen[t] {
				seen[t] = true
				*list = append(*list, t)
			}
		}
	}
	stages := r.stages()
	for _, st := range stages {
		if st.readsInput {
			add(&ts.Inputs, st.topics)
		}
	}
	for _, st := range stages {
		if !st.readsInput {
			add(&ts.Internal, st.topics)
		}
	}
	for _, st := range stages {
		add(&ts.Internal, st.outputs)
		for _, t := range st.outputs {
			if !slices.Contains(ts.Outputs, t) {
				ts.Outputs = append(ts.Outputs, t)
			}
		}
	}
	return ts
}

// work runs a stage on one claimed partition until the claim ends.
func (r *Runner) work(ctx context.Context, st stage, out Output, c Claim) error {
	_, partition, _ := c.Position()
	w := st.open(out, partition)
	if w.close != nil {
		defer w.close()
	}
	if w.warm != nil {
		if err := r.warm(ctx, st.name, c, w.warm); err != nil {
			return err
		}
	}
	return consume(ctx, st.name, c, w.Processor, r.cfg.Loop, r.log, r.metrics)
}

func (r *Runner) stagePoison(stage string) poison.Config {
	cfg := r.poison
	cfg.Log = r.log.With("stage", stage)
	return cfg
}

// warm rebuilds the partition's windows, retrying while storage is away;
// the partition reports not ready until it is done.
func (r *Runner) warm(ctx context.Context, stage string, c Claim, warm func(context.Context, int64) (int, error)) error {
	topic, partition, committed := c.Position()
	r.metrics.PartitionsWarming.Inc()
	r.ready.Warming(stage, topic, partition, true)
	defer func() {
		r.metrics.PartitionsWarming.Dec()
		r.ready.Warming(stage, topic, partition, false)
	}()
	start := time.Now()
	for {
		n, err := warm(ctx, committed)
		if err == nil {
			r.log.Info("window warmed up", "partition", partition, "committed", committed,
				"failures", n, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		r.log.Warn("window warm-up failed; retrying", "partition", partition, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

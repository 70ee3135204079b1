// Package inproc runs the pipeline's stages in one process without Kafka
// (signindiag demo, run --input): its topics are in-memory queues,
// partitioned by key with Kafka's own hash, so the stages, their windows
// and their rebuilds behave as they do on Kafka. The input is appended by
// the caller (a file reader, the traffic generator) round-robin over the
// input partitions, unkeyed like Event Hubs'; dead letters go to a sink (a
// file). What survives a restart is the store and the committed offsets of
// the internal topics (OffsetsFile): a restarted stage numbers its records
// on from there and rebuilds its windows from what the store holds before.
package inproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/signindiag/signindiag/pipeline"
	"github.com/signindiag/signindiag/pipeline/publish"
	"github.com/signindiag/signindiag/pipeline/source"
)

// DeadLetterSink receives the messages written to a dead-letter topic.
type DeadLetterSink interface {
	// WriteDeadLetters stores msgs durably before it returns.
	WriteDeadLetters(msgs []kafka.Message) error
}

// Config of a Transport.
type Config struct {
	// Partitions of every topic; an internal topic keeps the count it had
	// when OffsetsFile was written.
	Partitions int
	// OffsetsFile keeps the internal topics' committed offsets across
	// restarts; "" keeps none (every start is a fresh one).
	OffsetsFile string
	// DeadLetterTopics are written to DeadLetters rather than queued.
	DeadLetterTopics []string
	DeadLetters      DeadLetterSink
	// MaxPartitionBytes bounds each partition's queue (0: 8 MiB).
	MaxPartitionBytes int
	Log               *slog.Logger
}

// Transport is the in-process pipeline.Transport.
type Transport struct {
	cfg     Config
	offsets *offsetsFile

	started  chan struct{}
	topics   map[string][]*partition // set before started is closed
	inputs   []string
	internal map[string]bool
	rr       atomic.Uint64
	ended    atomic.Bool // no more input
}

var _ pipeline.Transport = (*Transport)(nil)

// New prepares a transport; its topics exist once Start ran.
func New(cfg Config) (*Transport, error) {
	if cfg.Partitions < 1 {
		return nil, fmt.Errorf("inproc: partitions: expected at least 1, got %d", cfg.Partitions)
	}
	if cfg.MaxPartitionBytes <= 0 {
		cfg.MaxPartitionBytes = 8 << 20
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	t := &Transport{cfg: cfg, started: make(chan struct{}), internal: map[string]bool{}}
	if cfg.OffsetsFile != "" {
		o, err := loadOffsets(cfg.OffsetsFile)
		if err != nil {
			return nil, err
		}
		t.offsets = o
	}
	return t, nil
}

// Start creates the topics, the internal ones from their committed
// offsets, and returns the Output the stages write to.
func (t *Transport) Start(_ context.Context, ts pipeline.TopicSet) (pipeline.Output, error) {
	select {
	case <-t.started:
		return nil, errors.New("inproc: started twice")
	default:
	}
	t.topics = map[string][]*partition{}
	internalParts := t.cfg.Partitions
	if t.offsets != nil && t.offsets.Partitions > 0 && t.offsets.Partitions != internalParts {
		t.cfg.Log.Warn("keeping the internal topics' partition count of the earlier run: the window rebuild reads by partition",
			"partitions", t.offsets.Partitions, "configured", internalParts)
		internalParts = t.offsets.Partitions
	}
	for _, name := range ts.Inputs {
		t.topics[name] = t.newTopic(name, t.cfg.Partitions, nil)
	}
	t.inputs = slices.Clone(ts.Inputs)
	for _, name := range ts.Internal {
		if slices.Contains(t.cfg.DeadLetterTopics, name) {
			continue
		}
		var start []int64
		if t.offsets != nil {
			start = t.offsets.Committed[name]
		}
		t.topics[name] = t.newTopic(name, internalParts, start)
		t.internal[name] = true
	}
	if t.offsets != nil {
		t.offsets.Partitions = internalParts
	}
	close(t.started)
	out := &output{t: t, balancer: &kafka.Hash{}, maxBytes: publish.DefaultMaxMessageBytes - 1024}
	for i := range max(t.cfg.Partitions, internalParts) {
		out.ids = append(out.ids, i)
	}
	return out, nil
}

func (t *Transport) newTopic(name string, n int, start []int64) []*partition {
	parts := make([]*partition, n)
	for i := range parts {
		var from int64
		if i < len(start) {
			from = start[i]
		}
		parts[i] = newPartition(name, i, from, t.cfg.MaxPartitionBytes)
	}
	return parts
}

// Publish appends one input message to topic (an input topic), on the
// next partition in turn; it waits for Start and for room.
func (t *Transport) Publish(ctx context.Context, topic string, value []byte) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.started:
	}
	parts, ok := t.topics[topic]
	if !ok || !slices.Contains(t.inputs, topic) {
		return fmt.Errorf("inproc: %q is not an input topic", topic)
	}
	p := parts[int(t.rr.Add(1)%uint64(len(parts)))]
	return p.append(ctx, nil, value, time.Now())
}

// EndInput says no more input will be published; Drained then waits for
// the rest to be processed.
func (t *Transport) EndInput() { t.ended.Store(true) }

// Drained waits until the input has ended and every record published, and
// every record the stages wrote from it, is processed, made durable and
// committed.
func (t *Transport) Drained(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if t.ended.Load() && t.idle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// idle: no partition holds a record that is not committed. The inputs are
// checked first: a stage commits its input only after writing its output,
// so the internal topics, checked after, already hold what it wrote.
func (t *Transport) idle() bool {
	select {
	case <-t.started:
	default:
		return false
	}
	names := slices.Clone(t.inputs)
	for name := range t.topics {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, name := range names {
		for _, p := range t.topics[name] {
			waiting, next, committed := p.state()
			if waiting > 0 || committed != next {
				return false
			}
		}
	}
	return true
}

// Consume runs handle on every partition of sub's topics, concurrently,
// until ctx ends or a handler fails.
func (t *Transport) Consume(ctx context.Context, sub pipeline.Subscription, handle func(context.Context, pipeline.Claim) error) error {
	select {
	case <-ctx.Done():
		return nil
	case <-t.started:
	}
	var claims []*claim
	for _, name := range sub.Topics {
		parts, ok := t.topics[name]
		if !ok {
			return fmt.Errorf("inproc: group %s reads %q, which is not a topic of the pipeline", sub.Group, name)
		}
		for _, p := range parts {
			_, _, committed := p.state()
			claims = append(claims, &claim{t: t, p: p, start: committed})
		}
	}
	if sub.Observer != nil {
		sub.Observer.Assigned(len(claims))
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range claims {
		g.Go(func() error { return handle(gctx, c) })
	}
	return g.Wait()
}

// committed records a claim's commit, and keeps the internal topics'
// offsets on disk.
func (t *Transport) committed(p *partition, next int64) error {
	p.commit(next)
	if t.offsets == nil || !t.internal[p.topic] {
		return nil
	}
	return t.offsets.set(p.topic, p.id, len(t.topics[p.topic]), next)
}

// claim is one partition held by a stage.
type claim struct {
	t     *Transport
	p     *partition
	start int64
}

func (c *claim) Fetch(ctx context.Context) (source.Record, error) { return c.p.fetch(ctx) }
func (c *claim) Commit(next int64) error                          { return c.t.committed(c.p, next) }
func (c *claim) Position() (string, int, int64)                   { return c.p.topic, c.p.id, c.start }

// Lag is the number of records waiting (for readiness).
func (c *claim) Lag() int64 {
	waiting, _, _ := c.p.state()
	return int64(waiting)
}

// output routes the stages' messages: dead letters to the sink, the rest
// to the partition kafka.Hash gives their key, as the Kafka producer does.
type output struct {
	t        *Transport
	balancer kafka.Balancer
	maxBytes int
	// ids are partition numbers 0…n-1 for the widest topic (the balancer
	// takes the list of a topic's partitions).
	ids []int
}

func (o *output) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	// A producer may reuse its buffers once the write returned (the rekey
	// stage's arena does), as Kafka's client has copied them by then: the
	// queued records get a copy of their own, one allocation per call.
	size := 0
	for _, m := range msgs {
		size += len(m.Key) + len(m.Value)
	}
	arena := make([]byte, 0, size)
	clone := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		arena = append(arena, b...)
		return arena[len(arena)-len(b) : len(arena) : len(arena)]
	}
	var dead []kafka.Message
	for _, m := range msgs {
		m.Key, m.Value = clone(m.Key), clone(m.Value)
		if slices.Contains(o.t.cfg.DeadLetterTopics, m.Topic) {
			dead = append(dead, m)
			continue
		}
		parts, ok := o.t.topics[m.Topic]
		if !ok {
			return fmt.Errorf("%w: inproc: no topic %q", pipeline.ErrPermanent, m.Topic)
		}
		p := parts[o.balancer.Balance(m, o.ids[:len(parts)]...)]
		if err := p.append(ctx, m.Key, m.Value, m.Time); err != nil {
			return err
		}
	}
	if len(dead) == 0 {
		return nil
	}
	if o.t.cfg.DeadLetters == nil {
		return fmt.Errorf("%w: inproc: no sink for dead letters", pipeline.ErrPermanent)
	}
	if err := o.t.cfg.DeadLetters.WriteDeadLetters(dead); err != nil {
		return fmt.Errorf("inproc: %w", err)
	}
	return nil
}

// MaxMessageBytes is Kafka's default limit, so a record the Kafka path
// would dead-letter as too large is dead-lettered here too.
func (o *output) MaxMessageBytes() int { return o.maxBytes }

func (o *output) Close() error { return nil }

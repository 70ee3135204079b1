// Package source reads Kafka partitions through a kafka-go consumer group,
// one handler call per assigned partition and generation. It uses the
// ConsumerGroup/Generation API rather than Reader with a GroupID: only the
// former tells a worker when its partition is taken away, and lets it
// commit exactly the offsets it made durable.
package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// Record is one Kafka message, without client types.
type Record struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time
}

// Claim is one partition held by this process for one generation.
type Claim struct {
	Topic     string
	Partition int
	// Committed is the group's committed offset for the partition: the
	// next offset to read, 0 when nothing was ever committed.
	Committed int64

	reader  *kafka.Reader
	gen     *kafka.Generation
	commits *sync.Mutex // the group's, shared by its claims
	fetched atomic.Int64
}

// Fetch returns the next record; it blocks until one arrives or ctx ends.
func (c *Claim) Fetch(ctx context.Context) (Record, error) {
	m, err := fetchRetrying(ctx, c.reader)
	if err != nil {
		return Record{}, err
	}
	c.fetched.Add(1)
	return Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Time: m.Time}, nil
}

// fetcher is what Fetch needs of a kafka.Reader.
type fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
}

// fetchRetryDelay spaces the retries of a fetch that failed for a reason
// that passes (the reader itself backs off between its attempts).
const fetchRetryDelay = 500 * time.Millisecond

// fetchRetrying returns the next message. kafka-go's reader keeps retrying
// on its own, but after a few failed attempts it also hands the error to
// FetchMessage: a partition whose leader is not elected yet (a topic just
// created) or a broker restarting would then stop the whole process. Only
// errors that no retry fixes are returned.
func fetchRetrying(ctx context.Context, r fetcher) (kafka.Message, error) {
	for {
		m, err := r.FetchMessage(ctx)
		if err == nil || ctx.Err() != nil || fetchErrorIsPermanent(err) {
			return m, err
		}
		select {
		case <-ctx.Done():
			return kafka.Message{}, ctx.Err()
		case <-time.After(fetchRetryDelay):
		}
	}
}

// fetchErrorIsPermanent: the reader will get the same answer however
// often it asks.
func fetchErrorIsPermanent(err error) bool {
	for _, code := range []kafka.Error{kafka.TopicAuthorizationFailed, kafka.GroupAuthorizationFailed,
		kafka.ClusterAuthorizationFailed, kafka.SASLAuthenticationFailed, kafka.UnsupportedVersion} {
		if errors.Is(err, code) {
			return true
		}
	}
	return false
}

// Lag is the number of records between the last one fetched and the
// partition's high-water mark, as the last fetch response told it (no
// request); -1 before the first fetch.
func (c *Claim) Lag() int64 {
	if c.fetched.Load() == 0 {
		return -1
	}
	return c.reader.Lag()
}

// Position names the partition and the offset it resumed from.
func (c *Claim) Position() (topic string, partition int, committed int64) {
	return c.Topic, c.Partition, c.Committed
}

// Commit records next as the offset to resume from. Call it only once
// everything before next is durable downstream.
func (c *Claim) Commit(next int64) error {
	// kafka-go multiplexes a generation's commits over one coordinator
	// connection, and concurrent waiters spin on it reading each other's
	// responses (7% of the process's CPU at 13 000 events/s): one commit
	// of the group at a time waits without spinning.
	c.commits.Lock()
	defer c.commits.Unlock()
	if err := c.gen.CommitOffsets(map[string]map[int]int64{c.Topic: {c.Partition: next}}); err != nil {
		return fmt.Errorf("commit %s/%d at %d: %w", c.Topic, c.Partition, next, err)
	}
	return nil
}

// Handler consumes one claim. It must return promptly once ctx is done
// (generation end or shutdown), after its final flush and commit.
type Handler func(ctx context.Context, c *Claim) error

// Config of a consumer group.
type Config struct {
	Brokers []string
	// Dialer connects the group and its readers (TLS, SASL); nil is
	// kafka-go's default, plaintext.
	Dialer  *kafka.Dialer
	GroupID string
	Topics  []string
	// MaxWait bounds how long a fetch waits for new data; short, so
	// flush timers and shutdown are not held up.
	MaxWait time.Duration
	// SessionTimeout: a member silent for longer loses its partitions.
	SessionTimeout time.Duration
	// Observer, when set, hears of every generation's start and end.
	Observer Observer
}

// Observer hears of the group's generations (for readiness).
type Observer interface {
	// Assigned: a generation started with this many partitions for this
	// member (0 when other members hold them all).
	Assigned(partitions int)
	// Unassigned: the generation ended; the member is rejoining.
	Unassigned()
	// OffsetReset: a partition's reader skipped records because its
	// offset fell off the log's retention.
	OffsetReset(topic string, partition int, skipped int64)
}

// Group runs a consumer group.
type Group struct {
	cfg  Config
	log  *slog.Logger
	warn *limitedWarn
	// commits serialises the claims' offset commits (see Claim.Commit).
	commits sync.Mutex
}

// NewGroup prepares a group; nothing connects until Run.
func NewGroup(cfg Config, log *slog.Logger) *Group {
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 250 * time.Millisecond
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 30 * time.Second
	}
	log = log.With("group", cfg.GroupID)
	return &Group{cfg: cfg, log: log, warn: newLimitedWarn(log)}
}

// Run joins the group and calls handle for every assigned partition of
// every generation until ctx ends or a handler fails. It returns nil after
// a clean shutdown, or the first handler error.
func (g *Group) Run(ctx context.Context, handle Handler) error {
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                g.cfg.GroupID,
		Brokers:           g.cfg.Brokers,
		Dialer:            g.cfg.Dialer,
		Topics:            g.cfg.Topics,
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: 3 * time.Second,
		SessionTimeout:    g.cfg.SessionTimeout,
		RebalanceTimeout:  g.cfg.SessionTimeout,
		JoinGroupBackoff:  time.Second,
		ErrorLogger:       g.warn,
	})
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", g.cfg.GroupID, err)
	}
	defer group.Close()

	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	for runCtx.Err() == nil {
		gen, err := group.Next(runCtx)
		if err != nil {
			if runCtx.Err() != nil {
				break
			}
			g.log.Warn("joining consumer group failed; retrying", "err", err)
			select {
			case <-runCtx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if g.cfg.Observer != nil {
			n := 0
			for _, as := range gen.Assignments {
				n += len(as)
			}
			g.cfg.Observer.Assigned(n)
		}
		g.runGeneration(runCtx, stop, gen, handle)
		if g.cfg.Observer != nil {
			g.cfg.Observer.Unassigned()
		}
	}
	if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) && ctx.Err() == nil {
		return cause
	}
	return nil
}

// runGeneration starts one handler per assigned partition and waits for
// all of them: they end with the generation or with runCtx.
func (g *Group) runGeneration(runCtx context.Context, fail context.CancelCauseFunc, gen *kafka.Generation, handle Handler) {
	var wg sync.WaitGroup
	for topic, assignments := range gen.Assignments {
		for _, a := range assignments {
			wg.Add(1)
			gen.Start(func(genCtx context.Context) {
				defer wg.Done()
				ctx, cancel := context.WithCancel(runCtx)
				defer cancel()
				go func() {
					select {
					case <-genCtx.Done():
						cancel()
					case <-ctx.Done():
					}
				}()
				claim := &Claim{Topic: topic, Partition: a.ID, Committed: max(a.Offset, 0), gen: gen, commits: &g.commits}
				logs := newReaderLogs(topic, a.ID, g.log, g.warn, func(skipped int64) {
					if g.cfg.Observer != nil {
						g.cfg.Observer.OffsetReset(topic, a.ID, skipped)
					}
				})
				claim.reader = kafka.NewReader(kafka.ReaderConfig{
					Brokers:   g.cfg.Brokers,
					Dialer:    g.cfg.Dialer,
					Topic:     topic,
					Partition: a.ID,
					MinBytes:  1,
					MaxBytes:  4 << 20,
					// Messages queued inside the reader, on top of the fetch-ahead
					// bytes: an Event Hubs message holds 100 records (~440 KB).
					QueueCapacity: 16,
					MaxWait:       g.cfg.MaxWait,
					Logger:        kafka.LoggerFunc(logs.info),
					ErrorLogger:   kafka.LoggerFunc(logs.errorf),
				})
				defer claim.reader.Close()
				if err := claim.reader.SetOffset(a.Offset); err != nil {
					fail(fmt.Errorf("seek %s/%d to %d: %w", topic, a.ID, a.Offset, err))
					return
				}
				g.log.Info("partition assigned", "topic", topic, "partition", a.ID, "offset", a.Offset, "generation", gen.ID)
				if err := handle(ctx, claim); err != nil && ctx.Err() == nil {
					fail(fmt.Errorf("%s/%d: %w", topic, a.ID, err))
				}
				g.log.Info("partition released", "topic", topic, "partition", a.ID, "generation", gen.ID)
			})
		}
	}
	wg.Wait()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/signindiag/signindiag/loadgen"
	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/source"
)

func createTopics(ctx context.Context, o options, n names) error {
	return source.EnsureTopics(ctx, kafkaconn.Plain(o.brokers).Client(0), []source.TopicSpec{
		{Name: n.signins, Partitions: o.partitions}, {Name: n.flags, Partitions: o.partitions}})
}

func generatorConfig(o options, seed int64) (loadgen.Config, error) {
	cfg := loadgen.DefaultConfig()
	cfg.Seed = seed
	cfg.Count = o.events
	cfg.RecordsPerBatch = o.recordsPerBatch
	shape, err := loadgen.ParseShape(o.shape)
	if err != nil {
		return cfg, err
	}
	cfg.Shape = shape
	return cfg, nil
}

// writer sends unkeyed, round-robin over the partitions, as Event Hubs
// delivers; batches stay below the broker's default 1 MiB limit.
func writer(brokers []string) *kafka.Writer {
	return &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.RoundRobin{}, RequiredAcks: kafka.RequireAll,
		Compression: kafka.Lz4, BatchSize: 2000, BatchBytes: 900 << 10, BatchTimeout: 2 * time.Millisecond}
}

// preload writes the whole stream before signindiag starts and returns
// the number of distinct sign-ins in it.
func preload(ctx context.Context, o options, n names, seed int64) (int, error) {
	if err := createTopics(ctx, o, n); err != nil {
		return 0, err
	}
	cfg, err := generatorConfig(o, seed)
	if err != nil {
		return 0, err
	}
	gen, err := loadgen.New(cfg)
	if err != nil {
		return 0, err
	}
	w := writer(o.brokers)
	defer w.Close()
	// One goroutine generates, two write: a write waits for the acks.
	chunks := make(chan []kafka.Message, 4)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(chunks)
		for {
			chunk := make([]kafka.Message, 0, 1000)
			for len(chunk) < cap(chunk) {
				m, ok := gen.Next()
				if !ok {
					break
				}
				chunk = append(chunk, message(n, m))
			}
			if len(chunk) == 0 {
				return nil
			}
			select {
			case chunks <- chunk:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
	})
	for range 2 {
		g.Go(func() error {
			for chunk := range chunks {
				if err := writeRetrying(gctx, w, chunk); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return gen.Stats().SignIns, nil
}

// send paces the stream at rate sign-ins per second for d, with event
// times following the wall clock, and returns the distinct sign-ins sent.
func send(ctx context.Context, o options, n names, seed int64, rate int, d time.Duration) (int, error) {
	cfg, err := generatorConfig(o, seed)
	if err != nil {
		return 0, err
	}
	cfg.Count = int(float64(rate) * d.Seconds())
	cfg.Start = time.Now().UTC()
	cfg.Span = d
	gen, err := loadgen.New(cfg)
	if err != nil {
		return 0, err
	}
	w := writer(o.brokers)
	defer w.Close()
	const tick = 20 * time.Millisecond
	perTick := float64(rate) * tick.Seconds()
	start := time.Now()
	sent := 0
	for ticks := 1; ; ticks++ {
		due := int(perTick * float64(ticks))
		var chunk []kafka.Message
		for sent < due {
			m, ok := gen.Next()
			if !ok {
				if err := writeRetrying(ctx, w, chunk); err != nil {
					return 0, err
				}
				return gen.Stats().SignIns, nil
			}
			sent += max(len(m.SignInIDs), 1)
			chunk = append(chunk, message(n, m))
		}
		if err := writeRetrying(ctx, w, chunk); err != nil {
			return 0, err
		}
		if wait := time.Until(start.Add(time.Duration(ticks) * tick)); wait > 0 {
			time.Sleep(wait)
		}
	}
}

func message(n names, m loadgen.Message) kafka.Message {
	topic := n.signins
	if m.Topic == loadgen.TopicFlags {
		topic = n.flags
	}
	return kafka.Message{Topic: topic, Value: m.Value}
}

// writeRetrying retries while a new topic has no leader yet.
func writeRetrying(ctx context.Context, w *kafka.Writer, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	for {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !(errors.Is(err, kafka.UnknownTopicOrPartition) || errors.Is(err, kafka.LeaderNotAvailable)) {
			return fmt.Errorf("produce: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/loadgen"
	"github.com/signindiag/signindiag/pipeline/source"
)

// maxMessageBytes keeps every produce request's batch under the broker's
// default max.message.bytes (1 MiB), with room for the batch header.
const maxMessageBytes = 1_000_000

// sink takes chunks of messages; Parallel says how many chunks it may
// take at once.
type sink interface {
	Write(ctx context.Context, chunk []loadgen.Message) error
	Parallel() int
	Close() error
}

func openSink(ctx context.Context, o *loadgenOptions, stdout io.Writer, log *slog.Logger) (sink, error) {
	if o.out != "" {
		return openFileSink(o.out, o.flagOut, stdout)
	}
	if o.partitions > 0 {
		err := source.EnsureTopics(ctx, o.brokers, []source.TopicSpec{
			{Name: o.topic, Partitions: o.partitions}, {Name: o.flagTopic, Partitions: o.partitions}})
		if err != nil {
			return nil, err
		}
	}
	log.Info("loadgen: writing to Kafka", "brokers", o.brokers, "topic", o.topic, "flag_topic", o.flagTopic)
	return &kafkaSink{topics: [2]string{o.topic, o.flagTopic}, w: &kafka.Writer{
		Addr: kafka.TCP(o.brokers...),
		// Unkeyed and round-robin, as Event Hubs' Kafka endpoint delivers.
		Balancer:     &kafka.RoundRobin{},
		Compression:  kafka.Lz4,
		RequiredAcks: kafka.RequireAll,
		BatchBytes:   maxMessageBytes,
		BatchSize:    10_000, // bytes, not counts, close a batch
		BatchTimeout: 10 * time.Millisecond,
	}}, nil
}

type kafkaSink struct {
	topics [2]string // by loadgen.Topic
	w      *kafka.Writer
}

// Parallel: several requests in flight keep the broker busy while the
// next chunk is generated and compressed.
func (k *kafkaSink) Parallel() int { return 8 }

func (k *kafkaSink) Write(ctx context.Context, chunk []loadgen.Message) error {
	msgs := make([]kafka.Message, len(chunk))
	for i, m := range chunk {
		if len(m.Value) > maxMessageBytes {
			return fmt.Errorf("a message of %d bytes exceeds the broker's 1 MiB max.message.bytes: lower --records-per-batch", len(m.Value))
		}
		msgs[i] = kafka.Message{Topic: k.topics[m.Topic], Value: m.Value}
	}
	for {
		err := k.w.WriteMessages(ctx, msgs...)
		// A topic created a moment ago may not have a leader yet.
		if err == nil || ctx.Err() != nil || !(errors.Is(err, kafka.UnknownTopicOrPartition) || errors.Is(err, kafka.LeaderNotAvailable)) {
			if err != nil {
				return fmt.Errorf("write to Kafka: %w", err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (k *kafkaSink) Close() error { return k.w.Close() }

// fileSink writes one message per line, as cmd/produce reads .jsonl files.
type fileSink struct {
	signIns, flags *bufio.Writer
	closers        []io.Closer
}

func openFileSink(out, flagOut string, stdout io.Writer) (*fileSink, error) {
	s := &fileSink{}
	open := func(path string) (*bufio.Writer, error) {
		if path == "-" {
			return bufio.NewWriterSize(stdout, 1<<20), nil
		}
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		s.closers = append(s.closers, f)
		return bufio.NewWriterSize(f, 1<<20), nil
	}
	var err error
	if s.signIns, err = open(out); err != nil {
		return nil, err
	}
	if flagOut != "" {
		if s.flags, err = open(flagOut); err != nil {
			_ = s.Close() // the open error is the one to report
			return nil, err
		}
	}
	return s, nil
}

// Parallel: one writer keeps the file in stream order.
func (s *fileSink) Parallel() int { return 1 }

func (s *fileSink) Write(_ context.Context, chunk []loadgen.Message) error {
	for _, m := range chunk {
		w := s.signIns
		if m.Topic == loadgen.TopicFlags {
			if w = s.flags; w == nil {
				continue
			}
		}
		_, _ = w.Write(m.Value) // a bufio.Writer: its error comes back from WriteByte and Flush
		if err := w.WriteByte('\n'); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

func (s *fileSink) Close() error {
	var errs []error
	for _, w := range []*bufio.Writer{s.signIns, s.flags} {
		if w != nil {
			errs = append(errs, w.Flush())
		}
	}
	for _, c := range s.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

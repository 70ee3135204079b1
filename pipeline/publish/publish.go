// Package publish writes a stage's output to Kafka within what the broker
// accepts. A broker refuses a record batch larger than the topic's
// max.message.bytes (1 MiB by default) with an error that retrying cannot
// fix, so a writer that batches past that limit stalls its partition for
// ever. The Publisher reads the limits of the topics it writes at start-up,
// sizes its batches below the smallest, says whether a single message fits
// (the caller dead-letters one that does not), compresses batches, and
// marks the errors retrying cannot fix as permanent.
package publish

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/sinks"
)

// DefaultMaxMessageBytes is the broker's default message.max.bytes (about
// 1 MiB), used when a topic's limit cannot be read.
const DefaultMaxMessageBytes = 1048588

// batchOverhead is what the record-batch framing and compression headers
// may add to the sum of the messages' sizes as kafka-go counts them.
const batchOverhead = 1024

// Limits maps a topic to its max.message.bytes.
type Limits map[string]int

// Min is the smallest limit, or DefaultMaxMessageBytes when there is none.
func (l Limits) Min() int {
	m := 0
	for _, v := range l {
		if m == 0 || v < m {
			m = v
		}
	}
	if m == 0 {
		return DefaultMaxMessageBytes
	}
	return m
}

// ReadLimits asks the broker for each topic's max.message.bytes (the
// topic's own setting, else the broker's default, as the broker resolves
// it). A topic whose limit cannot be read gets DefaultMaxMessageBytes.
func ReadLimits(ctx context.Context, cluster kafkaconn.Cluster, topics []string) (Limits, error) {
	client := cluster.Client(10 * time.Second)
	req := &kafka.DescribeConfigsRequest{}
	for _, t := range topics {
		req.Resources = append(req.Resources, kafka.DescribeConfigRequestResource{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: t, ConfigNames: []string{"max.message.bytes"}})
	}
	resp, err := client.DescribeConfigs(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %v: %w", topics, err)
	}
	limits := Limits{}
	for _, t := range topics {
		limits[t] = DefaultMaxMessageBytes
	}
	for _, r := range resp.Resources {
		if r.Error != nil {
			continue
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName != "max.message.bytes" {
				continue
			}
			if n, err := strconv.Atoi(e.ConfigValue); err == nil && n > 0 {
				limits[r.ResourceName] = n
			}
		}
	}
	return limits, nil
}

// Config of a Publisher.
type Config struct {
	// Cluster holds the brokers and how to reach them (TLS, SASL).
	Cluster kafkaconn.Cluster
	// Limits of the topics written; batches stay below the smallest.
	Limits Limits
	// Compression of produced batches; the broker stores them as sent.
	Compression kafka.Compression
	// Balancer picks a partition per message; nil hashes the key with
	// kafka.Hash (sarama-compatible FNV-1a), the same in every process.
	Balancer kafka.Balancer
}

// Publisher writes messages synchronously: nil means every message was
// acknowledged by all in-sync replicas.
type Publisher struct {
	w        *kafka.Writer
	maxBytes int
}

// New returns a Publisher; nothing connects until the first write.
func New(cfg Config) *Publisher {
	balancer := cfg.Balancer
	if balancer == nil {
		balancer = &kafka.Hash{}
	}
	batchBytes := cfg.Limits.Min() - batchOverhead
	return &Publisher{
		maxBytes: batchBytes,
		w: &kafka.Writer{
			Addr:         kafka.TCP(cfg.Cluster.Brokers...),
			Transport:    cfg.Cluster.Transport(),
			Balancer:     balancer,
			RequiredAcks: kafka.RequireAll,
			Compression:  cfg.Compression,
			BatchSize:    10000,
			BatchBytes:   int64(batchBytes),
			BatchTimeout: 5 * time.Millisecond,
			// The stage's loop retries with backoff and reports each
			// failed attempt; a few quick tries here absorb leader moves.
			MaxAttempts: 3,
		},
	}
}

// MaxMessageBytes is the largest message (key, value and headers, as
// Size counts them) that every topic accepts.
func (p *Publisher) MaxMessageBytes() int { return p.maxBytes }

// Size is a message's size as the batch limit counts it.
func Size(m *kafka.Message) int {
	n := len(m.Key) + len(m.Value) + 64 // record framing, varints, timestamp
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value) + 8
	}
	return n
}

// Fits reports whether m can be written on its own.
func (p *Publisher) Fits(m *kafka.Message) bool { return Size(m) <= p.maxBytes }

// WriteMessages writes msgs; an error retrying cannot fix wraps
// sinks.ErrPermanent and names the Kafka error.
func (p *Publisher) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	err := p.w.WriteMessages(ctx, msgs...)
	if err == nil {
		return nil
	}
	return Classify(err)
}

// Close flushes and closes the writer.
func (p *Publisher) Close() error { return p.w.Close() }

// permanentErrors are the broker's answers that the same request will get
// again however often it is retried.
var permanentErrors = []kafka.Error{
	kafka.MessageSizeTooLarge,
	kafka.RecordListTooLarge,
	kafka.InvalidRecord,
	kafka.InvalidTopic,
	kafka.InvalidRequiredAcks,
	kafka.TopicAuthorizationFailed,
	kafka.ClusterAuthorizationFailed,
	kafka.SASLAuthenticationFailed,
	kafka.UnsupportedVersion,
	kafka.UnsupportedForMessageFormat,
	kafka.UnsupportedCompressionType,
	kafka.PolicyViolation,
}

// Classify wraps the errors retrying cannot fix with sinks.ErrPermanent;
// others (network, leader moves, timeouts) are returned as they are.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var tooLarge kafka.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		return fmt.Errorf("%w: a message exceeds the batch limit: %w", sinks.ErrPermanent, err)
	}
	var werr kafka.WriteErrors
	if errors.As(err, &werr) {
		for _, e := range werr {
			if e != nil && isPermanent(e) {
				return fmt.Errorf("%w: %w (%d of %d messages failed)", sinks.ErrPermanent, e, werr.Count(), len(werr))
			}
		}
		return err
	}
	if isPermanent(err) {
		return fmt.Errorf("%w: %w", sinks.ErrPermanent, err)
	}
	return err
}

func isPermanent(err error) bool {
	for _, code := range permanentErrors {
		if errors.Is(err, code) {
			return true
		}
	}
	return false
}

// Package rekey is the first stage: it reads the sign-in and flag topics as
// Entra writes them (no key, spread round-robin), decodes and validates
// every record, and republishes each as a schemas.Event keyed by user on
// the internal topic, so that all of a user's events meet on one diagnose
// worker (the repartition pattern of Kafka Streams); failed sign-ins with a
// spray code also go, keyed by source IP, to the topic of the spray stage.
// Rejected input goes to the dead-letter topic. Offsets are committed once
// every write is acked by all in-sync replicas.
package rekey

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/publish"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/entra"
	"github.com/signindiag/signindiag/schemas/wire"
)

// Producer writes messages synchronously: nil means acknowledged.
// *kafka.Writer satisfies it.
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Config names the topics.
type Config struct {
	SignInTopic     string
	FlagTopic       string
	KeyedTopic      string
	DeadLetterTopic string
	// IPTopic receives, keyed by source IP, the sign-ins for which
	// SprayCandidate is true (for the per-IP password-spray stage).
	IPTopic        string
	SprayCandidate func(*schemas.SignIn) bool
	// MaxMessageBytes: larger input messages are dead-lettered undecoded.
	MaxMessageBytes int
	// MaxOutputBytes is the largest message the output topics accept
	// (publish.Publisher.MaxMessageBytes); 0 means no limit. A keyed event
	// above it is dead-lettered, a dead letter above it truncated, so no
	// single record can block the partition.
	MaxOutputBytes int
	// Time bounds the sign-ins' createdDateTime (ReasonTimeOutOfRange).
	Time TimeBounds
}

// ReasonTooLargeForTopic dead-letters a record whose keyed event is larger
// than the internal topic accepts.
const ReasonTooLargeForTopic = "too_large_for_topic"

// retainedMessages bounds the pending slice kept between flushes: a batch
// that grew past it (one huge Event Hubs message) does not pin its memory.
const retainedMessages = 16384

// Counters the stage reports to; implemented by pipeline.Metrics.
type Counters interface {
	DeadLetter(reason string)
}

// Processor rekeys one partition's records.
type Processor struct {
	cfg      Config
	out      Producer
	counters Counters
	pending  []kafka.Message
	records  int
	// buf backs the values of the pending messages: one arena per batch
	// instead of an allocation per event. When it grows, earlier values
	// keep the old backing array, which nothing writes to again.
	buf []byte
	// spare is the memory of the batch sealed before the last, reused for
	// the next (Seal).
	spare struct {
		pending []kafka.Message
		buf     []byte
	}
}

// retainedBufferBytes bounds the arena kept between flushes.
const retainedBufferBytes = 32 << 20

// NewProcessor returns a processor writing to out.
func NewProcessor(cfg Config, out Producer, counters Counters) *Processor {
	return &Processor{cfg: cfg, out: out, counters: counters}
}

// Process decodes one record into keyed events and dead letters.
func (p *Processor) Process(_ context.Context, rec source.Record) error {
	p.records++
	if p.cfg.MaxMessageBytes > 0 && len(rec.Value) > p.cfg.MaxMessageBytes {
		p.deadLetter(rec, rec.Value, &entra.DecodeError{Reason: entra.ReasonTooLarge,
			Detail: fmt.Sprintf("%d bytes, limit %d", len(rec.Value), p.cfg.MaxMessageBytes)})
		return nil
	}
	if rec.Topic == p.cfg.FlagTopic {
		flag, err := entra.DecodeFlag(rec.Value)
		if err != nil {
			p.deadLetter(rec, rec.Value, err)
			return nil
		}
		value, err := p.encode(func(b []byte) ([]byte, error) { return wire.AppendEvent(b, &schemas.Event{Flag: flag}) })
		if err != nil {
			return fmt.Errorf("encode flag: %w", err)
		}
		p.emitOrDeadLetter(rec, rec.Value, p.cfg.KeyedTopic, flag.UserKey(), value)
		return nil
	}
	decoded, err := entra.DecodeSignIns(rec.Value)
	if err != nil {
		p.deadLetter(rec, rec.Value, err)
		return nil
	}
	for _, d := range decoded {
		if d.Err != nil {
			p.deadLetter(rec, d.Raw, d.Err)
			continue
		}
		if err := p.cfg.Time.check(d.SignIn.CreatedDateTime); err != nil {
			p.deadLetterReason(rec, d.Raw, ReasonTimeOutOfRange, err)
			continue
		}
		value, err := p.encode(func(b []byte) ([]byte, error) { return wire.AppendEvent(b, &schemas.Event{SignIn: d.SignIn}) })
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		if !p.emitOrDeadLetter(rec, d.Raw, p.cfg.KeyedTopic, d.SignIn.UserKey(), value) {
			continue
		}
		if p.cfg.IPTopic != "" && p.cfg.SprayCandidate != nil && p.cfg.SprayCandidate(d.SignIn) {
			// The spray stage needs a dozen fields, not the whole sign-in.
			c := wire.NewSprayCandidate(d.SignIn)
			value, err := p.encode(func(b []byte) ([]byte, error) { return wire.AppendSprayCandidate(b, &c) })
			if err != nil {
				return fmt.Errorf("encode spray candidate: %w", err)
			}
			p.emit(rec, p.cfg.IPTopic, d.SignIn.IPAddress, value)
		}
	}
	return nil
}

// encode appends one value to the batch's arena and returns it, capped so
// that later appends never write into it.
func (p *Processor) encode(appendTo func([]byte) ([]byte, error)) ([]byte, error) {
	start := len(p.buf)
	b, err := appendTo(p.buf)
	if err != nil {
		return nil, err
	}
	p.buf = b
	return b[start:len(b):len(b)], nil
}

// Output messages keep the input record's timestamp, as Kafka Streams
// does when it repartitions: later stages then see the original produce
// time, and measure end-to-end latency and lag from it.
func (p *Processor) emit(rec source.Record, topic, key string, value []byte) {
	p.pending = append(p.pending, kafka.Message{Topic: topic, Key: []byte(key), Value: value, Time: rec.Time})
}

// emitOrDeadLetter publishes a keyed event, or dead-letters its raw record
// when the event is larger than the topic accepts; it reports whether the
// event was published.
func (p *Processor) emitOrDeadLetter(rec source.Record, raw []byte, topic, key string, value []byte) bool {
	m := kafka.Message{Topic: topic, Key: []byte(key), Value: value, Time: rec.Time}
	if p.cfg.MaxOutputBytes > 0 && publish.Size(&m) > p.cfg.MaxOutputBytes {
		p.deadLetterReason(rec, raw, ReasonTooLargeForTopic, fmt.Errorf(
			"the keyed event has %d bytes; topic %s accepts at most %d", publish.Size(&m), topic, p.cfg.MaxOutputBytes))
		return false
	}
	p.pending = append(p.pending, m)
	return true
}

func (p *Processor) deadLetter(rec source.Record, value []byte, err error) {
	p.deadLetterReason(rec, value, entra.ReasonOf(err), err)
}

func (p *Processor) deadLetterReason(rec source.Record, value []byte, reason string, err error) {
	p.counters.DeadLetter(reason)
	m := deadletter.Message(p.cfg.DeadLetterTopic, rec, value, reason, err)
	if p.cfg.MaxOutputBytes > 0 {
		deadletter.Truncate(&m, p.cfg.MaxOutputBytes)
	}
	p.pending = append(p.pending, m)
}

// Pending counts records read since the last seal.
func (p *Processor) Pending() int { return p.records }

// Seal moves the keyed events and dead letters of the batch out and
// returns the write that publishes them (pipeline.Processor). A failure
// retries the whole batch: duplicates on the keyed topic are harmless
// downstream (windows and tables deduplicate by id).
func (p *Processor) Seal() func(context.Context) error {
	msgs, buf := p.pending, p.buf
	// Two arenas alternate, so the values of the sealed batch stay as they
	// are while the next batch is encoded: the spare is the batch sealed
	// before this one, whose write has returned (Seal's contract).
	p.pending, p.buf = reuse(p.spare.pending, p.spare.buf)
	p.spare.pending, p.spare.buf = msgs, buf
	p.records = 0
	return func(ctx context.Context) error {
		if len(msgs) == 0 {
			return nil
		}
		if err := p.out.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("publish %d messages: %w", len(msgs), err)
		}
		return nil
	}
}

// reuse readies a written batch's memory for the next; memory past the
// retention bounds (one huge Event Hubs message) is let go instead.
func reuse(msgs []kafka.Message, buf []byte) ([]kafka.Message, []byte) {
	if cap(msgs) > retainedMessages {
		msgs = nil
	} else {
		clear(msgs) // drop references to the values so they can be freed
		msgs = msgs[:0]
	}
	if cap(buf) > retainedBufferBytes {
		buf = nil
	} else {
		buf = buf[:0]
	}
	return msgs, buf
}

// Flush seals the batch and publishes it at once, for callers without a
// pipelined loop (tests).
func (p *Processor) Flush(ctx context.Context) error { return p.Seal()(ctx) }

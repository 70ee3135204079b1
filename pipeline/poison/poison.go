// Package poison stores a batch that storage rejected because of some of
// its rows (sinks.ErrRejected): it splits the batch along the input
// records its rows came from, halving until each rejected part is a single
// record, stores every part storage accepts, and sends each record storage
// refuses on its own to the storage dead-letter topic with the reason, the
// error and its source offset. The stage then commits as usual: one bad
// row neither blocks its partition (retried for ever) nor stops the
// process (which would crash-loop on the same batch after a restart).
//
// A sign-in's dependent rows (its keys, findings and flags) travel with it,
// since they come from the same record. Incidents come from many records;
// each is split on its own and dead-lettered without a source offset.
// Errors that no split can help (sinks.ErrPermanent: a missing table or
// column, a denied authorisation) and transient ones are returned as they
// are, at any depth, so the worker stops or retries the whole batch.
package poison

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/sinks"
)

// Reason is the dead-letter reason of a record storage refused.
const Reason = "storage_rejected"

// Producer writes messages synchronously: nil means acknowledged.
// *publish.Publisher satisfies it.
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Counters counts dead letters by reason; implemented by pipeline.Metrics.
type Counters interface {
	DeadLetter(reason string)
}

// Config of a Writer.
type Config struct {
	// Topic is the storage dead-letter topic. Without Topic or Producer a
	// rejected batch is not split: the rejection stops the worker, as a
	// permanent error does.
	Topic    string
	Producer Producer
	// MaxBytes is the largest dead letter the topic accepts
	// (publish.Publisher.MaxMessageBytes); 0 means no limit.
	MaxBytes int
	Counters Counters
	Log      *slog.Logger
}

// Writer stores batches through a sinks.Writer, splitting those it
// rejects.
type Writer struct {
	store sinks.Writer
	cfg   Config
}

// New returns a Writer storing into store.
func New(store sinks.Writer, cfg Config) *Writer {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Writer{store: store, cfg: cfg}
}

// counts are the row counts of a batch, per kind of row a record adds.
type counts struct{ signIns, flags, findings, ipFailures int }

func countsOf(b *sinks.Batch) counts {
	return counts{len(b.SignIns), len(b.Flags), len(b.Findings), len(b.IPFailures)}
}

// mark is one input record and where its rows end in the batch.
type mark struct {
	rec source.Record
	end counts
}

// Marks says which input record each row of a batch came from. A stage
// calls Add after appending a record's rows, and Reset once the batch is
// stored.
type Marks struct{ marks []mark }

// Add records that the rows appended to b since the previous Add came
// from rec. rec.Value is what a dead letter carries: it must stay
// unchanged until Reset.
func (m *Marks) Add(rec source.Record, b *sinks.Batch) {
	m.marks = append(m.marks, mark{rec: rec, end: countsOf(b)})
}

// Reset forgets the marks, keeping the slice for the next batch.
func (m *Marks) Reset() {
	clear(m.marks) // drop the records' values
	m.marks = m.marks[:0]
}

// Len is the number of marked records.
func (m *Marks) Len() int { return len(m.marks) }

// Write stores b, whose rows came from the records marked in m. A batch
// storage rejects is split: what storage accepts is stored, the records it
// refuses are dead-lettered, and Write returns nil.
func (w *Writer) Write(ctx context.Context, b *sinks.Batch, m *Marks) error {
	err := w.store.Write(ctx, b)
	if err == nil || !errors.Is(err, sinks.ErrRejected) {
		return err
	}
	if w.cfg.Topic == "" || w.cfg.Producer == nil {
		return fmt.Errorf("%w: no storage dead-letter topic to send the rejected rows to: %w", sinks.ErrPermanent, err)
	}
	s := &split{store: w.store, batch: b, marks: m.marks, tail: tailOf(b, m.marks)}
	if err := s.bisect(ctx, 0, s.units(), err); err != nil {
		return fmt.Errorf("split a rejected batch of %d rows: %w", b.Len(), err)
	}
	msgs := make([]kafka.Message, 0, len(s.rejected))
	for _, r := range s.rejected {
		msg, err := s.deadLetter(w.cfg.Topic, r)
		if err != nil {
			return err
		}
		if w.cfg.MaxBytes > 0 {
			deadletter.Truncate(&msg, w.cfg.MaxBytes)
		}
		msgs = append(msgs, msg)
	}
	// The dead letters go out only once every other part is stored: a
	// transient error while splitting makes the loop retry the whole batch
	// (writes are idempotent) before any dead letter was sent.
	if err := w.cfg.Producer.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish %d storage dead letters: %w", len(msgs), err)
	}
	for _, msg := range msgs {
		if w.cfg.Counters != nil {
			w.cfg.Counters.DeadLetter(Reason)
		}
		w.cfg.Log.Warn("storage rejected a record; dead-lettered it", "topic", w.cfg.Topic,
			"source_topic", deadletter.Header(msg, deadletter.HeaderSourceTopic),
			"source_partition", deadletter.Header(msg, deadletter.HeaderSourcePartition),
			"source_offset", deadletter.Header(msg, deadletter.HeaderSourceOffset),
			"err", deadletter.Header(msg, deadletter.HeaderError))
	}
	w.cfg.Log.Info("stored a rejected batch without its rejected records", "rows", b.Len(),
		"records", len(m.marks), "dead_lettered", len(msgs), "writes", s.writes)
	return nil
}

// tailOf reports rows added after the last mark: a stage that forgot to
// mark them. They are split as one unit of their own rather than lost.
func tailOf(b *sinks.Batch, marks []mark) bool {
	var last counts
	if len(marks) > 0 {
		last = marks[len(marks)-1].end
	}
	return last != countsOf(b)
}

// split bisects a batch over its units: the marked records in order, then
// the unmarked rows if any (tail), then each incident.
type split struct {
	store    sinks.Writer
	batch    *sinks.Batch
	marks    []mark
	tail     bool
	rejected []rejection
	writes   int
}

type rejection struct {
	unit int
	err  error
}

// rowUnits counts the units holding per-record rows.
func (s *split) rowUnits() int {
	if s.tail {
		return len(s.marks) + 1
	}
	return len(s.marks)
}

func (s *split) units() int { return s.rowUnits() + len(s.batch.Incidents) }

// before is where the rows of unit u (a row unit, or rowUnits()) start.
func (s *split) before(u int) counts {
	switch {
	case u == 0:
		return counts{}
	case u <= len(s.marks):
		return s.marks[u-1].end
	default: // past the tail
		return countsOf(s.batch)
	}
}

// sub is the part of the batch made of units [lo, hi): sub-slices of the
// batch, so splitting copies no row.
func (s *split) sub(lo, hi int) sinks.Batch {
	n := s.rowUnits()
	from, to := s.before(min(lo, n)), s.before(min(hi, n))
	b := s.batch
	return sinks.Batch{
		SignIns:    b.SignIns[from.signIns:to.signIns],
		Flags:      b.Flags[from.flags:to.flags],
		Findings:   b.Findings[from.findings:to.findings],
		IPFailures: b.IPFailures[from.ipFailures:to.ipFailures],
		Incidents:  b.Incidents[max(lo-n, 0):max(hi-n, 0)],
		// Every part carries the watermarks: writing one twice is
		// harmless, and a part storage refuses must not lose them.
		Watermarks: b.Watermarks,
	}
}

// bisect stores units [lo, hi), whose write is known to fail with
// rejected when that is not nil. A single unit that storage rejects is
// recorded for the dead-letter topic; any other error ends the split.
func (s *split) bisect(ctx context.Context, lo, hi int, rejected error) error {
	if rejected == nil {
		part := s.sub(lo, hi)
		if part.Len() == 0 {
			return nil
		}
		s.writes++
		err := s.store.Write(ctx, &part)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sinks.ErrRejected) {
			return err
		}
		rejected = err
	}
	if hi-lo == 1 {
		s.rejected = append(s.rejected, rejection{unit: lo, err: rejected})
		return nil
	}
	mid := lo + (hi-lo)/2
	if err := s.bisect(ctx, lo, mid, nil); err != nil {
		return err
	}
	return s.bisect(ctx, mid, hi, nil)
}

// deadLetter builds the dead letter of a rejected unit: a record's value
// as it was read (the stored document: schemas/wire bytes or JSON), with
// its topic, partition and offset; the unmarked rows or an incident as
// JSON, with offset -1 (they do not come from one record).
func (s *split) deadLetter(topic string, r rejection) (kafka.Message, error) {
	if r.unit < len(s.marks) {
		rec := s.marks[r.unit].rec
		return deadletter.Message(topic, rec, rec.Value, Reason, r.err), nil
	}
	from := source.Record{Offset: -1}
	if len(s.marks) > 0 {
		last := s.marks[len(s.marks)-1].rec
		from.Topic, from.Partition = last.Topic, last.Partition
	}
	part := s.sub(r.unit, r.unit+1)
	var value any = part
	if len(part.Incidents) == 1 {
		value = part.Incidents[0]
		from.Key = []byte(part.Incidents[0].Key)
	}
	doc, err := json.Marshal(value)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode the dead letter of unit %d: %w", r.unit, err)
	}
	return deadletter.Message(topic, from, doc, Reason, r.err), nil
}

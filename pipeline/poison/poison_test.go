package poison

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// fakeStore rejects every write holding a row named in bad (a sign-in id,
// an IP failure's identity or an incident id), as ClickHouse does a batch
// with one bad value; fail, when set, decides other outcomes first. It
// keeps what it stored.
type fakeStore struct {
	bad    map[string]bool
	fail   func(write int, b *sinks.Batch) error
	writes int
	stored sinks.Batch
}

func (s *fakeStore) Write(_ context.Context, b *sinks.Batch) error {
	s.writes++
	if s.fail != nil {
		if err := s.fail(s.writes, b); err != nil {
			return err
		}
	}
	for _, r := range b.SignIns {
		if s.bad[r.SignIn.ID] {
			return fmt.Errorf("clickhouse: %w: sign-in %s: created_at out of range", sinks.ErrRejected, r.SignIn.ID)
		}
	}
	for _, r := range b.IPFailures {
		if s.bad[r.Identity] {
			return fmt.Errorf("clickhouse: %w: IP failure %s", sinks.ErrRejected, r.Identity)
		}
	}
	for _, r := range b.Incidents {
		if s.bad[r.ID] {
			return fmt.Errorf("clickhouse: %w: incident %s", sinks.ErrRejected, r.ID)
		}
	}
	s.stored.SignIns = append(s.stored.SignIns, b.SignIns...)
	s.stored.Flags = append(s.stored.Flags, b.Flags...)
	s.stored.Findings = append(s.stored.Findings, b.Findings...)
	s.stored.IPFailures = append(s.stored.IPFailures, b.IPFailures...)
	s.stored.Incidents = append(s.stored.Incidents, b.Incidents...)
	return nil
}

type fakeProducer struct {
	msgs []kafka.Message
	err  error
}

func (p *fakeProducer) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	if p.err != nil {
		return p.err
	}
	p.msgs = append(p.msgs, msgs...)
	return nil
}

type counters map[string]int

func (c counters) DeadLetter(reason string) { c[reason]++ }

const keyedTopic = "g-keyed-events"

// batchOf builds what the diagnose stage would hold after reading n
// sign-ins at offsets 100.., each with a finding, every third one with a
// flag, plus a flag event of its own at offset 100+n.
func batchOf(n int) (*sinks.Batch, *Marks) {
	b := &sinks.Batch{}
	m := &Marks{}
	at := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("s%d", i)
		b.SignIns = append(b.SignIns, sinks.SignInRecord{SignIn: schemas.SignIn{ID: id, UserID: "u", CreatedDateTime: at}, Offset: int64(100 + i)})
		if i%3 == 0 {
			b.Flags = append(b.Flags, schemas.Flag{ID: "flag-" + id, SignInID: id})
		}
		b.Findings = append(b.Findings, schemas.Finding{ID: "finding-" + id, SignInID: id})
		m.Add(source.Record{Topic: keyedTopic, Partition: 2, Offset: int64(100 + i), Key: []byte("u"),
			Value: []byte("doc of " + id)}, b)
	}
	b.Flags = append(b.Flags, schemas.Flag{ID: "flag-event", SignInID: "elsewhere"})
	m.Add(source.Record{Topic: keyedTopic, Partition: 2, Offset: int64(100 + n), Key: []byte("u"), Value: []byte("flag event")}, b)
	return b, m
}

func newWriter(store *fakeStore, prod *fakeProducer, c counters) *Writer {
	return New(store, Config{Topic: "g-storage-deadletter", Producer: prod, Counters: c,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// signInIDs lists the sign-ins stored, and checks that each stored finding
// and flag belongs to a stored sign-in (or is the flag event).
func signInIDs(t *testing.T, b sinks.Batch) []string {
	t.Helper()
	var ids []string
	for _, r := range b.SignIns {
		ids = append(ids, r.SignIn.ID)
	}
	for _, f := range b.Findings {
		if !slices.Contains(ids, f.SignInID) {
			t.Errorf("finding %s stored without its sign-in", f.ID)
		}
	}
	for _, f := range b.Flags {
		if f.ID != "flag-event" && !slices.Contains(ids, f.SignInID) {
			t.Errorf("flag %s stored without its sign-in", f.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func offsets(msgs []kafka.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, deadletter.Header(m, deadletter.HeaderSourceOffset))
	}
	return out
}

func TestAGoodBatchIsWrittenOnce(t *testing.T) {
	store, prod, c := &fakeStore{}, &fakeProducer{}, counters{}
	b, m := batchOf(10)
	if err := newWriter(store, prod, c).Write(context.Background(), b, m); err != nil {
		t.Fatal(err)
	}
	if store.writes != 1 || len(store.stored.SignIns) != 10 || len(store.stored.Flags) != 5 || len(prod.msgs) != 0 || len(c) != 0 {
		t.Fatalf("writes %d, stored %d sign-ins %d flags, dead letters %d, counted %v",
			store.writes, len(store.stored.SignIns), len(store.stored.Flags), len(prod.msgs), c)
	}
}

func TestOneBadRecordIsDeadLetteredWithItsHeadersAndTheRestStored(t *testing.T) {
	store, prod, c := &fakeStore{bad: map[string]bool{"s6": true}}, &fakeProducer{}, counters{}
	b, m := batchOf(10)
	if err := newWriter(store, prod, c).Write(context.Background(), b, m); err != nil {
		t.Fatal(err)
	}
	got := signInIDs(t, store.stored)
	if len(got) != 9 || slices.Contains(got, "s6") {
		t.Fatalf("stored sign-ins %v, want all but s6", got)
	}
	// s6's finding and flag went with it; the flag event was stored.
	if len(store.stored.Findings) != 9 || len(store.stored.Flags) != 4 {
		t.Fatalf("stored %d findings, %d flags; want 9 and 4", len(store.stored.Findings), len(store.stored.Flags))
	}
	if len(prod.msgs) != 1 {
		t.Fatalf("%d dead letters, want 1", len(prod.msgs))
	}
	dl := prod.msgs[0]
	for h, want := range map[string]string{deadletter.HeaderReason: Reason, deadletter.HeaderSourceTopic: keyedTopic,
		deadletter.HeaderSourcePartition: "2", deadletter.HeaderSourceOffset: "106"} {
		if got := deadletter.Header(dl, h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if e := deadletter.Header(dl, deadletter.HeaderError); !strings.Contains(e, "sign-in s6") {
		t.Errorf("error header %q does not name the row", e)
	}
	if dl.Topic != "g-storage-deadletter" || string(dl.Value) != "doc of s6" || string(dl.Key) != "u" {
		t.Errorf("dead letter %s key %q value %q", dl.Topic, dl.Key, dl.Value)
	}
	if c[Reason] != 1 {
		t.Errorf("counted %v, want one %s", c, Reason)
	}
	// Bisection, not one write per record: 1 + 2 per level down to s6.
	if store.writes > 1+2*5 {
		t.Errorf("%d writes for one bad record among 11", store.writes)
	}
}

func TestSeveralScatteredBadRecordsAreIsolated(t *testing.T) {
	bad := map[string]bool{"s0": true, "s7": true, "s8": true, "s519": true, "s999": true}
	store, prod, c := &fakeStore{bad: bad}, &fakeProducer{}, counters{}
	b, m := batchOf(1000)
	if err := newWriter(store, prod, c).Write(context.Background(), b, m); err != nil {
		t.Fatal(err)
	}
	got := signInIDs(t, store.stored)
	if len(got) != 995 {
		t.Fatalf("stored %d sign-ins, want 995", len(got))
	}
	for _, id := range got {
		if bad[id] {
			t.Errorf("bad sign-in %s stored", id)
		}
	}
	if fmt.Sprint(offsets(prod.msgs)) != "[100 107 108 619 1099]" || c[Reason] != 5 {
		t.Fatalf("dead-lettered offsets %v (counted %v), want [100 107 108 619 1099]", offsets(prod.msgs), c)
	}
	// Bisection: at most two writes per bad record and level (10 levels
	// for 1001 records), far from one per record.
	if store.writes > 1+2*5*10 {
		t.Errorf("%d writes for 5 bad records among 1001", store.writes)
	}
}

func TestASchemaErrorStopsWithoutSplitting(t *testing.T) {
	missing := fmt.Errorf("clickhouse: insert into signins: %w (UNKNOWN_TABLE): table doesn't exist", sinks.ErrPermanent)
	store := &fakeStore{fail: func(int, *sinks.Batch) error { return missing }}
	prod, c := &fakeProducer{}, counters{}
	b, m := batchOf(1000)
	err := newWriter(store, prod, c).Write(context.Background(), b, m)
	if !errors.Is(err, sinks.ErrPermanent) || store.writes != 1 || len(prod.msgs) != 0 || len(c) != 0 {
		t.Fatalf("err %v after %d writes, %d dead letters; want the permanent error after one write, none", err, store.writes, len(prod.msgs))
	}
}

// A rejection whose first single record then fails with a schema-level
// error is not about rows: the split stops there, the worker stops, and
// nothing is dead-lettered (no thousand single-row failures).
func TestASchemaErrorOfTheFirstSingleRecordStopsTheSplit(t *testing.T) {
	store := &fakeStore{fail: func(_ int, b *sinks.Batch) error {
		if len(b.SignIns) > 1 {
			return fmt.Errorf("%w (CANNOT_PARSE_TEXT): whole batch", sinks.ErrRejected)
		}
		return fmt.Errorf("%w (NO_SUCH_COLUMN_IN_TABLE): column doc", sinks.ErrPermanent)
	}}
	prod := &fakeProducer{}
	b, m := batchOf(1000)
	err := newWriter(store, prod, counters{}).Write(context.Background(), b, m)
	// 1001 units: the whole batch, then halves down to the first record.
	if !errors.Is(err, sinks.ErrPermanent) || len(prod.msgs) != 0 || store.writes != 10 {
		t.Fatalf("err %v after %d writes, %d dead letters; want the permanent error after 10 writes, none", err, store.writes, len(prod.msgs))
	}
}

// A transient error while splitting returns without dead-lettering; the
// loop retries the whole batch, and the retry dead-letters once.
func TestATransientErrorWhileSplittingRetriesTheWholeBatch(t *testing.T) {
	down := errors.New("dial tcp 127.0.0.1:9000: connection refused")
	store := &fakeStore{bad: map[string]bool{"s3": true}}
	store.fail = func(write int, _ *sinks.Batch) error {
		if write == 3 {
			return down
		}
		return nil
	}
	prod, c := &fakeProducer{}, counters{}
	w := newWriter(store, prod, c)
	b, m := batchOf(8)
	err := w.Write(context.Background(), b, m)
	if !errors.Is(err, down) || errors.Is(err, sinks.ErrPermanent) || errors.Is(err, sinks.ErrRejected) || len(prod.msgs) != 0 {
		t.Fatalf("err %v, %d dead letters; want the transient error and none", err, len(prod.msgs))
	}
	if err := w.Write(context.Background(), b, m); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(offsets(prod.msgs)) != "[103]" || c[Reason] != 1 {
		t.Fatalf("dead letters %v, counted %v; want offset 103 once", offsets(prod.msgs), c)
	}
	if got := signInIDs(t, store.stored); slices.Contains(got, "s3") || len(slices.Compact(got)) != 7 {
		t.Fatalf("stored %v", got)
	}
}

func TestAFailedDeadLetterPublishIsNotCounted(t *testing.T) {
	store, c := &fakeStore{bad: map[string]bool{"s1": true}}, counters{}
	prod := &fakeProducer{err: errors.New("leader not available")}
	b, m := batchOf(4)
	if err := newWriter(store, prod, c).Write(context.Background(), b, m); err == nil || len(c) != 0 {
		t.Fatalf("err %v, counted %v; want an error and nothing counted", err, c)
	}
}

func TestWithoutADeadLetterTopicARejectionStops(t *testing.T) {
	store := &fakeStore{bad: map[string]bool{"s1": true}}
	b, m := batchOf(4)
	err := New(store, Config{}).Write(context.Background(), b, m)
	if !errors.Is(err, sinks.ErrPermanent) || !errors.Is(err, sinks.ErrRejected) || store.writes != 1 {
		t.Fatalf("err %v after %d writes", err, store.writes)
	}
}

// Incidents come from many records: one storage refuses is split on its
// own and dead-lettered as JSON, without an offset; the records are kept.
func TestARejectedIncidentIsDeadLetteredAlone(t *testing.T) {
	store, prod := &fakeStore{bad: map[string]bool{"inc-2": true}}, &fakeProducer{}
	b, m := batchOf(5)
	for i := range 4 {
		b.Incidents = append(b.Incidents, sinks.IncidentRecord{ID: fmt.Sprint("inc-", i), Key: "u", Detection: "mfa_fatigue"})
	}
	if err := newWriter(store, prod, counters{}).Write(context.Background(), b, m); err != nil {
		t.Fatal(err)
	}
	if len(store.stored.SignIns) != 5 || len(store.stored.Incidents) != 3 || len(prod.msgs) != 1 {
		t.Fatalf("stored %d sign-ins %d incidents, %d dead letters", len(store.stored.SignIns), len(store.stored.Incidents), len(prod.msgs))
	}
	dl := prod.msgs[0]
	if deadletter.Header(dl, deadletter.HeaderSourceOffset) != "-1" || !strings.Contains(string(dl.Value), `"ID":"inc-2"`) ||
		deadletter.Header(dl, deadletter.HeaderSourcePartition) != "2" || string(dl.Key) != "u" {
		t.Fatalf("incident dead letter: offset %s, key %q, value %s", deadletter.Header(dl, deadletter.HeaderSourceOffset), dl.Key, dl.Value)
	}
}

// Rows a stage forgot to mark are split as one unit rather than lost.
func TestUnmarkedRowsAreSplitTooAndNeverLost(t *testing.T) {
	store, prod := &fakeStore{bad: map[string]bool{"s1": true}}, &fakeProducer{}
	b, m := batchOf(3)
	b.SignIns = append(b.SignIns, sinks.SignInRecord{SignIn: schemas.SignIn{ID: "unmarked"}})
	if err := newWriter(store, prod, counters{}).Write(context.Background(), b, m); err != nil {
		t.Fatal(err)
	}
	if got := signInIDs(t, store.stored); fmt.Sprint(got) != "[s0 s2 unmarked]" || fmt.Sprint(offsets(prod.msgs)) != "[101]" {
		t.Fatalf("stored %v, dead-lettered %v", got, offsets(prod.msgs))
	}
}

func TestALargeDeadLetterIsTruncatedToTheTopicsLimit(t *testing.T) {
	store, prod := &fakeStore{bad: map[string]bool{"s0": true}}, &fakeProducer{}
	b, m := batchOf(1)
	m.marks[0].rec.Value = []byte(strings.Repeat("x", 10000))
	w := New(store, Config{Topic: "dl", Producer: prod, MaxBytes: 2000, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := w.Write(context.Background(), b, m); err != nil {
		t.Fatal(err)
	}
	if len(prod.msgs) != 1 || len(prod.msgs[0].Value) >= 2000 || deadletter.Header(prod.msgs[0], deadletter.HeaderTruncated) != "10000" {
		t.Fatalf("dead letters: %d, value %d bytes, truncated header %q", len(prod.msgs), len(prod.msgs[0].Value),
			deadletter.Header(prod.msgs[0], deadletter.HeaderTruncated))
	}
}

func TestResetForgetsTheMarks(t *testing.T) {
	_, m := batchOf(3)
	m.Reset()
	if m.Len() != 0 {
		t.Fatalf("%d marks after Reset", m.Len())
	}
}

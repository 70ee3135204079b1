package rekey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/pipelinetest"
	"github.com/signindiag/signindiag/pipeline/publish"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/entra"
	"github.com/signindiag/signindiag/schemas/wire"
)

type recordingProducer struct {
	written []kafka.Message
	fail    error
}

func (p *recordingProducer) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	if p.fail != nil {
		return p.fail
	}
	p.written = append(p.written, msgs...)
	return nil
}

type reasons map[string]int

func (r reasons) DeadLetter(reason string) { r[reason]++ }

var cfg = Config{SignInTopic: "in", FlagTopic: "flags", KeyedTopic: "keyed", DeadLetterTopic: "dlq", MaxMessageBytes: 2048}

func TestRekeySplitsBatchesByUserAndDeadLettersBadRecords(t *testing.T) {
	out, counted := &recordingProducer{}, reasons{}
	p := NewProcessor(cfg, out, counted)
	batch := `{"records":[
	  {"category":"SignInLogs","properties":{"id":"a","createdDateTime":"2025-03-04T09:00:00Z","userId":"U1","status":{"errorCode":50126}}},
	  {"category":"SignInLogs","properties":{"id":"b","createdDateTime":"2025-03-04T09:01:00Z"}},
	  {"category":"SignInLogs","properties":{"id":"c","createdDateTime":"2025-03-04T09:02:00Z","userId":"U2"}}]}`
	ctx := context.Background()
	steps := []source.Record{
		{Topic: "in", Partition: 2, Offset: 7, Value: []byte(batch)},
		{Topic: "in", Partition: 2, Offset: 8, Value: []byte("not json")},
		{Topic: "in", Partition: 2, Offset: 9, Value: []byte(strings.Repeat("x", 4096))},
		{Topic: "flags", Partition: 0, Offset: 1, Value: []byte(`{"signInId":"a","userId":"U1","flaggedAt":"2025-03-04T09:05:00Z"}`)},
	}
	for _, r := range steps {
		if err := p.Process(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if p.Pending() != 4 || len(out.written) != 0 {
		t.Fatalf("pending %d, written %d before flush", p.Pending(), len(out.written))
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var keyed, dead []kafka.Message
	for _, m := range out.written {
		switch m.Topic {
		case "keyed":
			keyed = append(keyed, m)
		case "dlq":
			dead = append(dead, m)
		default:
			t.Fatalf("message to unexpected topic %q", m.Topic)
		}
	}
	if len(keyed) != 3 || string(keyed[0].Key) != "u1" || string(keyed[1].Key) != "u2" || string(keyed[2].Key) != "u1" {
		t.Fatalf("keyed messages: %v", keys(keyed))
	}
	var ev schemas.Event
	if err := wire.DecodeEvent(keyed[2].Value, &ev); err != nil || ev.Flag == nil || ev.Flag.SignInID != "a" {
		t.Fatalf("flag event: %+v %v", ev, err)
	}
	if len(dead) != 3 {
		t.Fatalf("dead letters: %d, want 3", len(dead))
	}
	if r := deadletter.Header(dead[0], deadletter.HeaderReason); r != entra.ReasonMissingUser ||
		deadletter.Header(dead[0], deadletter.HeaderSourceOffset) != "7" || deadletter.Header(dead[0], deadletter.HeaderSourcePartition) != "2" ||
		!strings.Contains(string(dead[0].Value), `"id":"b"`) {
		t.Errorf("bad record in a batch: reason %q, value %s", r, dead[0].Value)
	}
	if deadletter.Header(dead[1], deadletter.HeaderReason) != entra.ReasonInvalidJSON || string(dead[1].Value) != "not json" {
		t.Errorf("invalid JSON dead letter: %v", dead[1].Headers)
	}
	if deadletter.Header(dead[2], deadletter.HeaderReason) != entra.ReasonTooLarge || len(dead[2].Value) != 4096 {
		t.Errorf("oversized dead letter: %v", dead[2].Headers)
	}
	if counted[entra.ReasonMissingUser] != 1 || counted[entra.ReasonInvalidJSON] != 1 || counted[entra.ReasonTooLarge] != 1 {
		t.Errorf("counted %v", counted)
	}
	if p.Pending() != 0 {
		t.Errorf("pending after flush: %d", p.Pending())
	}
}

func TestFailedPublishKeepsTheBatchForTheRetry(t *testing.T) {
	out := &recordingProducer{fail: errors.New("broker down")}
	p := NewProcessor(cfg, out, reasons{})
	ctx := context.Background()
	_ = p.Process(ctx, source.Record{Topic: "in", Value: []byte(`{"id":"a","createdDateTime":"2025-03-04T09:00:00Z","userId":"u"}`)})
	write := p.Seal()
	if err := write(ctx); err == nil {
		t.Fatal("flush succeeded while the broker was down")
	}
	out.fail = nil
	if err := write(ctx); err != nil {
		t.Fatal(err)
	}
	if len(out.written) != 1 {
		t.Fatalf("after the retry %d messages were published, want 1", len(out.written))
	}
}

func keys(ms []kafka.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Key))
	}
	return out
}

func TestSprayCandidatesAreAlsoKeyedByIP(t *testing.T) {
	out := &recordingProducer{}
	c := cfg
	c.IPTopic = "byip"
	c.SprayCandidate = func(si *schemas.SignIn) bool { return si.Status.ErrorCode == 50126 }
	p := NewProcessor(c, out, reasons{})
	ctx := context.Background()
	for _, v := range []string{
		`{"id":"a","createdDateTime":"2025-03-04T09:00:00Z","userId":"u1","ipAddress":"198.51.100.7","status":{"errorCode":50126}}`,
		`{"id":"b","createdDateTime":"2025-03-04T09:00:00Z","userId":"u2","ipAddress":"198.51.100.7","status":{"errorCode":0}}`,
	} {
		if err := p.Process(ctx, source.Record{Topic: "in", Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var topics []string
	for _, m := range out.written {
		topics = append(topics, m.Topic+":"+string(m.Key))
	}
	if strings.Join(topics, ",") != "keyed:u1,byip:198.51.100.7,keyed:u2" {
		t.Fatalf("published %v", topics)
	}
}

// A record whose keyed event is larger than the internal topic accepts is
// dead-lettered, and a dead letter larger than the dead-letter topic
// accepts is truncated with a header saying so: neither may reach the
// producer, where the broker would refuse the batch for ever.
func TestOversizedOutputIsDeadLetteredOrTruncatedNeverPublished(t *testing.T) {
	out, counted := &recordingProducer{}, reasons{}
	c := cfg
	c.MaxMessageBytes = 1 << 20
	c.MaxOutputBytes = 1500
	p := NewProcessor(c, out, counted)
	ctx := context.Background()
	long := strings.Repeat("x", 1600)
	fits := `{"id":"a","createdDateTime":"2025-03-04T09:00:00Z","userId":"u1"}`
	tooBig := `{"id":"b","createdDateTime":"2025-03-04T09:00:00Z","userId":"u2","userAgent":"` + long + `"}`
	garbage := "not json " + long
	for i, v := range []string{fits, tooBig, garbage} {
		if err := p.Process(ctx, source.Record{Topic: "in", Offset: int64(i), Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(out.written) != 3 {
		t.Fatalf("published %d messages, want 3 (one event, two dead letters)", len(out.written))
	}
	for _, m := range out.written {
		if size := publish.Size(&m); size > c.MaxOutputBytes {
			t.Errorf("message to %s has %d bytes, above the limit %d", m.Topic, size, c.MaxOutputBytes)
		}
	}
	if m := out.written[0]; m.Topic != "keyed" || string(m.Key) != "u1" {
		t.Errorf("first message: %s %s, want the keyed event of u1", m.Topic, m.Key)
	}
	big := out.written[1]
	if big.Topic != "dlq" || deadletter.Header(big, deadletter.HeaderReason) != ReasonTooLargeForTopic {
		t.Errorf("oversized event: topic %s reason %q", big.Topic, deadletter.Header(big, deadletter.HeaderReason))
	}
	if deadletter.Header(big, deadletter.HeaderTruncated) != fmt.Sprint(len(tooBig)) || !strings.HasPrefix(tooBig, string(big.Value)) {
		t.Errorf("oversized event's dead letter: truncated header %q, value prefix kept %v",
			deadletter.Header(big, deadletter.HeaderTruncated), strings.HasPrefix(tooBig, string(big.Value)))
	}
	bad := out.written[2]
	if deadletter.Header(bad, deadletter.HeaderReason) != entra.ReasonInvalidJSON || deadletter.Header(bad, deadletter.HeaderTruncated) != fmt.Sprint(len(garbage)) {
		t.Errorf("invalid record: reason %q truncated %q", deadletter.Header(bad, deadletter.HeaderReason), deadletter.Header(bad, deadletter.HeaderTruncated))
	}
	if counted[ReasonTooLargeForTopic] != 1 || counted[entra.ReasonInvalidJSON] != 1 {
		t.Errorf("counted %v", counted)
	}
}

// decodingProducer reads the values as it is given them, as Kafka's
// client copies them: once it returns, the processor may reuse them.
type decodingProducer struct{ ids []string }

func (p *decodingProducer) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	for _, m := range msgs {
		var ev schemas.Event
		if err := wire.DecodeEvent(m.Value, &ev); err != nil {
			return err
		}
		p.ids = append(p.ids, ev.SignIn.ID)
	}
	return nil
}

// The loop publishes a sealed batch while the next is encoded, and the
// batches' arenas alternate: a batch's values must not change until its
// write returns (the race detector sees any overlap).
func TestSealedBatchIsUntouchedWhileTheNextIsEncoded(t *testing.T) {
	out := &decodingProducer{}
	p := NewProcessor(cfg, out, reasons{})
	ctx := context.Background()
	var want []string
	writes := pipelinetest.NewWriteBehind(t)
	for b := range 4 {
		for i := range 50 {
			id := fmt.Sprintf("b%d-%d", b, i)
			want = append(want, id)
			rec := source.Record{Topic: "in", Value: []byte(fmt.Sprintf(`{"id":%q,"createdDateTime":"2025-03-04T09:00:00Z","userId":"u"}`, id))}
			if err := p.Process(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		writes.Seal(ctx, p.Seal)
	}
	writes.Wait()
	if fmt.Sprint(out.ids) != fmt.Sprint(want) {
		t.Fatalf("published %v\nwant %v", out.ids, want)
	}
}

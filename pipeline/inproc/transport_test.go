package inproc_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline"
	"github.com/signindiag/signindiag/pipeline/inproc"
	"github.com/signindiag/signindiag/pipeline/source"
)

var topics = pipeline.TopicSet{Inputs: []string{"in"}, Internal: []string{"keyed", "dlq"}, Outputs: []string{"keyed", "dlq"}}

func start(t *testing.T, cfg inproc.Config) (*inproc.Transport, pipeline.Output) {
	t.Helper()
	tr, err := inproc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tr.Start(context.Background(), topics)
	if err != nil {
		t.Fatal(err)
	}
	return tr, out
}

// claims collects the claims a group is given, and keeps the group
// running until the test ends.
func claims(t *testing.T, tr *inproc.Transport, topic string) map[int]pipeline.Claim {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	got := map[int]pipeline.Claim{}
	done := make(chan error, 1)
	go func() {
		done <- tr.Consume(ctx, pipeline.Subscription{Group: "g", Topics: []string{topic}}, func(ctx context.Context, c pipeline.Claim) error {
			_, p, _ := c.Position()
			mu.Lock()
			got[p] = c
			mu.Unlock()
			<-ctx.Done()
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consume: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // every partition's handler has started by now
	mu.Lock()
	defer mu.Unlock()
	return got
}

// saramaPartition is the partition Kafka's Java-compatible producers (and
// kafka-go's Hash balancer) give a key: FNV-1a, as a signed 32-bit value,
// modulo the partitions, made positive.
func saramaPartition(key []byte, n int) int {
	h := fnv.New32a()
	h.Write(key)
	p := int32(h.Sum32()) % int32(n)
	if p < 0 {
		p = -p
	}
	return int(p)
}

func TestKeyedMessagesLandOnThePartitionKafkaWouldGiveThem(t *testing.T) {
	tr, out := start(t, inproc.Config{Partitions: 6})
	var msgs []kafka.Message
	for i := range 200 {
		msgs = append(msgs, kafka.Message{Topic: "keyed", Key: fmt.Appendf(nil, "user-%d@contoso.example", i), Value: []byte{byte(i)}})
	}
	if err := out.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	cs := claims(t, tr, "keyed")
	if len(cs) != 6 {
		t.Fatalf("claims: %d, want 6", len(cs))
	}
	seen := 0
	for p, c := range cs {
		for c.(interface{ Lag() int64 }).Lag() != 0 {
			rec, err := c.Fetch(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if want := saramaPartition(rec.Key, 6); p != want {
				t.Errorf("%s on partition %d, Kafka puts it on %d", rec.Key, p, want)
			}
			seen++
		}
	}
	if seen != len(msgs) {
		t.Errorf("fetched %d of %d", seen, len(msgs))
	}
}

func TestInputIsSpreadRoundRobinAndOffsetsCount(t *testing.T) {
	tr, _ := start(t, inproc.Config{Partitions: 3})
	ctx := context.Background()
	for i := range 9 {
		if err := tr.Publish(ctx, "in", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Publish(ctx, "keyed", []byte("x")); err == nil {
		t.Error("publishing to an internal topic: no error")
	}
	for p, c := range claims(t, tr, "in") {
		for want := int64(0); want < 3; want++ {
			rec, err := c.Fetch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Offset != want || rec.Partition != p || rec.Topic != "in" {
				t.Errorf("partition %d: record %+v, want offset %d", p, rec, want)
			}
		}
	}
}

func TestDrainedWaitsUntilTheInputEndedAndEverythingIsCommitted(t *testing.T) {
	tr, out := start(t, inproc.Config{Partitions: 1})
	ctx := context.Background()
	if err := tr.Publish(ctx, "in", []byte("a")); err != nil {
		t.Fatal(err)
	}
	c := claims(t, tr, "in")[0]
	k := claims(t, tr, "keyed")[0]
	rec, err := c.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A stage writes its output, then commits its input.
	if err := out.WriteMessages(ctx, kafka.Message{Topic: "keyed", Key: []byte("u"), Value: rec.Value}); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(rec.Offset + 1); err != nil {
		t.Fatal(err)
	}
	notYet := func(why string) {
		t.Helper()
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := tr.Drained(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: Drained returned %v", why, err)
		}
	}
	notYet("input not ended")
	tr.EndInput()
	notYet("keyed record not fetched")
	kr, err := k.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	notYet("keyed record fetched, not committed")
	if err := k.Commit(kr.Offset + 1); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := tr.Drained(waitCtx); err != nil {
		t.Errorf("everything committed: Drained returned %v", err)
	}
}

func TestARestartNumbersOnFromTheCommittedOffsets(t *testing.T) {
	file := filepath.Join(t.TempDir(), "offsets.json")
	ctx := context.Background()
	tr, out := start(t, inproc.Config{Partitions: 1, OffsetsFile: file})
	for range 5 {
		if err := out.WriteMessages(ctx, kafka.Message{Topic: "keyed", Key: []byte("u"), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	c := claims(t, tr, "keyed")[0]
	var last source.Record
	for range 5 {
		var err error
		if last, err = c.Fetch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Commit(last.Offset + 1); err != nil {
		t.Fatal(err)
	}

	// Asked for 4 partitions now, the restart keeps the 1 it had: the
	// window rebuild reads by partition.
	again, out2 := start(t, inproc.Config{Partitions: 4, OffsetsFile: file})
	if err := out2.WriteMessages(ctx, kafka.Message{Topic: "keyed", Key: []byte("u"), Value: []byte("w")}); err != nil {
		t.Fatal(err)
	}
	cs := claims(t, again, "keyed")
	if len(cs) != 1 {
		t.Fatalf("partitions after restart: %d, want the 1 of the first run", len(cs))
	}
	_, _, committed := cs[0].Position()
	if committed != 5 {
		t.Errorf("committed after restart: %d, want 5", committed)
	}
	rec, err := cs[0].Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Offset != 5 || string(rec.Value) != "w" {
		t.Errorf("first record after restart: offset %d value %q, want offset 5 value w", rec.Offset, rec.Value)
	}
}

func TestAFullPartitionMakesTheProducerWait(t *testing.T) {
	tr, out := start(t, inproc.Config{Partitions: 1, MaxPartitionBytes: 100})
	ctx := context.Background()
	big := kafka.Message{Topic: "keyed", Key: []byte("u"), Value: make([]byte, 80)}
	if err := out.WriteMessages(ctx, big); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := out.WriteMessages(short, big); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second write into a full partition: %v, want it to wait", err)
	}
	c := claims(t, tr, "keyed")[0]
	if _, err := c.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := out.WriteMessages(ctx, big); err != nil {
		t.Errorf("after a fetch made room: %v", err)
	}
}

type sink struct{ got []kafka.Message }

func (s *sink) WriteDeadLetters(msgs []kafka.Message) error {
	s.got = append(s.got, msgs...)
	return nil
}

func TestDeadLettersGoToTheSink(t *testing.T) {
	s := &sink{}
	tr, out := start(t, inproc.Config{Partitions: 2, DeadLetterTopics: []string{"dlq"}, DeadLetters: s})
	err := out.WriteMessages(context.Background(),
		kafka.Message{Topic: "dlq", Value: []byte("bad")},
		kafka.Message{Topic: "keyed", Key: []byte("u"), Value: []byte("good")})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.got) != 1 || string(s.got[0].Value) != "bad" {
		t.Errorf("dead letters: %+v", s.got)
	}
	lag := int64(0)
	for _, c := range claims(t, tr, "keyed") {
		lag += c.(interface{ Lag() int64 }).Lag()
	}
	if lag != 1 {
		t.Errorf("records queued on keyed: %d, want 1", lag)
	}
}

func TestAQueuedRecordKeepsItsBytesWhenTheProducerReusesItsBuffer(t *testing.T) {
	tr, out := start(t, inproc.Config{Partitions: 1})
	buf := []byte("first")
	if err := out.WriteMessages(context.Background(), kafka.Message{Topic: "keyed", Key: buf[:1], Value: buf}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX") // the rekey stage's arena is reused after a flush
	rec, err := claims(t, tr, "keyed")[0].Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Value) != "first" || string(rec.Key) != "f" {
		t.Errorf("record = %q/%q, want f/first", rec.Key, rec.Value)
	}
}

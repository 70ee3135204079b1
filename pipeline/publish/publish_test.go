package publish_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/publish"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/sinks"
)

// The broker refuses a batch above the topic's max.message.bytes with an
// error no retry fixes; the Publisher must split what it sends below the
// limit it read from the broker, and say so when a message cannot fit.
func TestBatchesStayBelowTheTopicLimitTheBrokerReports(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	small, plain := kafkatest.UniqueName("publish-small"), kafkatest.UniqueName("publish-plain")
	if err := source.EnsureTopics(ctx, kafkaconn.Plain(brokers).Client(0), []source.TopicSpec{
		{Name: small, Partitions: 2, Configs: map[string]string{"max.message.bytes": "65536"}},
		{Name: plain, Partitions: 1},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, small, plain) })

	limits, err := publish.ReadLimits(ctx, kafkaconn.Plain(brokers), []string{small, plain})
	if err != nil {
		t.Fatal(err)
	}
	if limits[small] != 65536 {
		t.Fatalf("limit of %s = %d, want the topic's own 65536", small, limits[small])
	}
	if limits[plain] < 65536*2 {
		t.Fatalf("limit of %s = %d, want the broker default (about 1 MiB)", plain, limits[plain])
	}

	p := publish.New(publish.Config{Cluster: kafkaconn.Plain(brokers), Limits: limits, Compression: kafka.Lz4})
	defer p.Close()
	// 400 incompressible 4 KB messages: 1.6 MB, 25 times the limit.
	rnd := rand.New(rand.NewPCG(1, 2))
	var msgs []kafka.Message
	for i := range 400 {
		v := make([]byte, 4096)
		for j := range v {
			v[j] = byte(rnd.Uint32())
		}
		msgs = append(msgs, kafka.Message{Topic: small, Key: []byte(fmt.Sprint(i % 17)), Value: v})
	}
	if err := writeWhenLeaderKnown(ctx, p, msgs...); err != nil {
		t.Fatalf("a batch of 1.6 MB to a 64 KiB topic: %v", err)
	}
	if got := len(kafkatest.ReadAll(t, brokers, small)); got != 400 {
		t.Fatalf("%d messages stored, want 400", got)
	}

	huge := kafka.Message{Topic: small, Value: make([]byte, 70000)}
	if p.Fits(&huge) {
		t.Fatal("a 70 000-byte message fits a 65 536-byte topic")
	}

	// A publisher that believes a larger limit gets the broker's refusal,
	// which must come back as permanent, not as something to retry.
	wrong := publish.New(publish.Config{Cluster: kafkaconn.Plain(brokers), Limits: publish.Limits{small: 4 << 20}})
	defer wrong.Close()
	err = wrong.WriteMessages(ctx, huge)
	if !errors.Is(err, sinks.ErrPermanent) {
		t.Fatalf("refused message: err = %v, want it marked permanent", err)
	}
}

func writeWhenLeaderKnown(ctx context.Context, p *publish.Publisher, msgs ...kafka.Message) error {
	for {
		err := p.WriteMessages(ctx, msgs...)
		if err == nil || ctx.Err() != nil || errors.Is(err, sinks.ErrPermanent) {
			return err
		}
		if !errors.Is(err, kafka.UnknownTopicOrPartition) && !errors.Is(err, kafka.LeaderNotAvailable) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err       error
		permanent bool
	}{
		{kafka.MessageSizeTooLarge, true},
		{kafka.WriteErrors{nil, kafka.TopicAuthorizationFailed}, true},
		{kafka.WriteErrors{kafka.LeaderNotAvailable, nil}, false},
		{kafka.NotEnoughReplicas, false},
		{errors.New("dial tcp: connection refused"), false},
		{fmt.Errorf("write: %w", kafka.InvalidRecord), true},
	} {
		if got := errors.Is(publish.Classify(c.err), sinks.ErrPermanent); got != c.permanent {
			t.Errorf("Classify(%v) permanent = %v, want %v", c.err, got, c.permanent)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
)

// pacedProducer sends a stream to one topic at a steady pace from a
// goroutine, riding out broker outages by sending a failed chunk again
// (a chunk partly written before the outage is then sent twice, as a
// producer retry would: signindiag deduplicates by id).
type pacedProducer struct {
	done    chan error
	retries int // chunks sent again; read after done
}

func producePaced(ctx context.Context, brokers []string, topic string, values [][]byte, over time.Duration) *pacedProducer {
	p := &pacedProducer{done: make(chan error, 1)}
	const tick = 100 * time.Millisecond
	chunk := max(1, len(values)*int(tick)/int(over))
	go func() {
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.RoundRobin{},
			RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, BatchSize: 1000, MaxAttempts: 3,
			WriteBackoffMax: 500 * time.Millisecond}
		defer w.Close()
		next := time.Now()
		for i := 0; i < len(values); i += chunk {
			msgs := make([]kafka.Message, 0, chunk)
			for _, v := range values[i:min(i+chunk, len(values))] {
				msgs = append(msgs, kafka.Message{Value: v})
			}
			for {
				err := w.WriteMessages(ctx, msgs...)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					p.done <- fmt.Errorf("produce to %s: gave up after %d chunks: %w", topic, i/chunk, err)
					return
				}
				p.retries++
				time.Sleep(250 * time.Millisecond) // the broker is away: try the chunk again
			}
			next = next.Add(tick)
			time.Sleep(time.Until(next))
		}
		p.done <- nil
	}()
	return p
}

// TestFaultKafkaBrokerRestarted: the (private, single-node) broker is shut
// down for 12 seconds in the middle of a paced stream and started again
// on the same log directory. The process rides it out without a restart,
// and stores the same sign-ins, findings and incidents, each once, as an
// uninterrupted process fed the same stream on the shared broker.
func TestFaultKafkaBrokerRestarted(t *testing.T) {
	steady := newFaultRun(t, "fault-broker-solo")
	broker := kafkatest.StartPrivateBroker(t)
	r := newFaultRunOn(t, "fault-broker", broker.Brokers())
	s := genStream(t, 20000, 17, nil)
	const outage = 12 * time.Second

	ref := startProcess(t, "ingest", steady.env(steady.ch, nil))
	proc := startProcess(t, "ingest", r.env(r.ch, nil))
	rss := watchRSS(t, proc)
	ref.waitReady(t)
	proc.waitReady(t)
	steady.send(t, s.signIns, s.flags)

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now()
	prod := producePaced(ctx, r.brokers, r.prefix+"-signins", s.signIns, 20*time.Second)
	eventually(t, 60*time.Second, "a fifth of the stream stored", func() bool { return r.stored(t) >= len(s.want)/5 })
	storedAt := r.stored(t)
	stopping := time.Now()
	broker.Stop()
	down := time.Now()
	t.Logf("broker stopped %s into the stream, with %d of %d sign-ins stored (the clean shutdown took %s)",
		stopping.Sub(start).Round(100*time.Millisecond), storedAt, len(s.want), down.Sub(stopping).Round(100*time.Millisecond))
	var notReady bool
	for time.Since(down) < outage {
		select {
		case err := <-proc.done:
			proc.dumpLog()
			t.Fatalf("signindiag exited while the broker was down: %v", err)
		default:
		}
		if code, _ := proc.readyProblems(); code == http.StatusServiceUnavailable {
			notReady = true
		}
		time.Sleep(500 * time.Millisecond) // sampling an outage of fixed length, not waiting for a condition
	}
	storedDown := r.stored(t)
	restarting := time.Now()
	broker.Start()
	t.Logf("broker back after %s down (%d sign-ins stored meanwhile; restart took %s); /readyz 503 during the outage: %v",
		time.Since(down).Round(100*time.Millisecond), storedDown-storedAt, time.Since(restarting).Round(100*time.Millisecond), notReady)

	if err := <-prod.done; err != nil {
		t.Fatal(err)
	}
	if storedAt >= len(s.want) {
		t.Fatalf("all %d sign-ins were stored before the broker went away: it hit no stream", storedAt)
	}
	kafkatest.Produce(t, r.brokers, r.prefix+"-flags", s.flags...)
	back := time.Now()
	r.waitAll(t, s.want, 90*time.Second)
	t.Logf("everything stored and committed %s after the broker came back (%d chunks sent again by the producer)",
		time.Since(back).Round(100*time.Millisecond), prod.retries)
	select {
	case err := <-proc.done:
		t.Fatalf("signindiag exited: %v", err)
	default:
	}
	proc.waitReady(t)
	proc.stop()
	rss.check(t)
	steady.waitAll(t, s.want, 90*time.Second)
	ref.stop()

	r.assertExactlyOnce(t, s.want)
	steady.assertExactlyOnce(t, s.want)
	r.assertNoDeadLetters(t)
	want, got := readState(t, steady.ch), readState(t, r.ch)
	compareByID(t, "finding", withoutCount(want.findings), withoutCount(got.findings))
	compareByID(t, "incident", want.incidents, got.incidents)
	if len(want.findings) == 0 || len(want.incidents) == 0 {
		t.Errorf("the uninterrupted run stored %d findings and %d incidents: the stream must raise both", len(want.findings), len(want.incidents))
	}
	t.Logf("%d sign-ins, %d findings and %d incidents stored once each, as by the uninterrupted run",
		len(got.signIns), len(got.findings), len(got.incidents))
}

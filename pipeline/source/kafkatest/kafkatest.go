// Package kafkatest gives integration tests a real Kafka broker and helpers
// to create, fill and read topics. The broker is SIGNINDIAG_KAFKA_BROKERS
// when set, else an apache/kafka container started once per test binary.
package kafkatest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/segmentio/kafka-go"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/signindiag/signindiag/internal/testenv"
	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/source"
)

// Image is the broker image for the container path.
const Image = "apache/kafka:4.1.0"

var (
	once    sync.Once
	brokers []string
	runErr  error
)

// Brokers returns a reachable broker list or fails the test.
func Brokers(t testing.TB) []string {
	t.Helper()
	testenv.Integration(t)
	if v := testenv.Lookup("SIGNINDIAG_KAFKA_BROKERS"); v != "" {
		return strings.Split(v, ",")
	}
	testenv.RequireDocker(t, "SIGNINDIAG_KAFKA_BROKERS")
	once.Do(func() { brokers, runErr = runContainer() })
	if runErr != nil {
		t.Fatalf("start Kafka container: %v", runErr)
	}
	return brokers
}

// runContainer starts a single-node KRaft broker. The advertised listener
// must name the host port, so the port is chosen before the start and
// bound explicitly. Ryuk removes the container when the test binary ends.
func runContainer() ([]string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close() // only its port was wanted
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err = testcontainers.Run(ctx, Image,
		testcontainers.WithExposedPorts("9092/tcp"),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{network.MustParsePort("9092/tcp"): {
				{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: fmt.Sprint(port)}}}
		}),
		testcontainers.WithEnv(map[string]string{
			"KAFKA_NODE_ID":                                  "1",
			"KAFKA_PROCESS_ROLES":                            "broker,controller",
			"KAFKA_LISTENERS":                                "PLAINTEXT://:9092,CONTROLLER://:9093",
			"KAFKA_ADVERTISED_LISTENERS":                     fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", port),
			"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@localhost:9093",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
			"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS":             "1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
		}),
		testcontainers.WithWaitStrategy(wait.ForLog("Kafka Server started").WithStartupTimeout(2*time.Minute)),
	)
	if err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("127.0.0.1:%d", port)}, nil
}

// UniqueName returns prefix plus a random suffix, so tests sharing a broker
// never share a topic or group.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// CreateTopics creates topics and deletes them when the test ends.
func CreateTopics(t testing.TB, brokers []string, partitions int, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var specs []source.TopicSpec
	for _, n := range names {
		specs = append(specs, source.TopicSpec{Name: n, Partitions: partitions})
	}
	if err := source.EnsureTopics(ctx, kafkaconn.Plain(brokers).Client(0), specs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { DeleteTopics(brokers, names...) })
}

// DeleteTopics removes topics, ignoring errors (cleanup only).
func DeleteTopics(brokers []string, names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	_, _ = client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: names})
}

// Produce writes values to topic without keys, spread round-robin over
// the partitions as Event Hubs does, acknowledged by all replicas.
func Produce(t testing.TB, brokers []string, topic string, values ...[]byte) {
	t.Helper()
	ProduceVia(t, brokers, nil, topic, values...)
}

// ProduceVia is Produce through transport (a secured cluster's; nil: the
// default, plaintext).
func ProduceVia(t testing.TB, brokers []string, transport kafka.RoundTripper, topic string, values ...[]byte) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.RoundRobin{}, Transport: transport,
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, BatchSize: 1000}
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A topic created a moment ago may not have a leader yet.
	for {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return
		}
		if ctx.Err() != nil || !(errors.Is(err, kafka.UnknownTopicOrPartition) || errors.Is(err, kafka.LeaderNotAvailable)) {
			t.Fatalf("produce to %s: %v", topic, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ReadAll reads every message of every partition of topic that exists now.
func ReadAll(t testing.TB, brokers []string, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := PartitionCount(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for p := range n {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := conn.ReadOffsets()
		_ = conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		if err := r.SetOffset(first); err != nil {
			t.Fatal(err)
		}
		for off := first; off < last; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				_ = r.Close()
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
		}
		_ = r.Close()
	}
	return out
}

// Caught reports whether group has committed every message of topic that
// exists now: everything a stage read is then durable downstream, since
// stages commit only after their output is.
func Caught(t testing.TB, brokers []string, group, topic string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := source.PartitionCount(ctx, kafkaconn.Plain(brokers).Client(0), topic)
	if err != nil {
		return false
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	var parts []int
	var reqs []kafka.OffsetRequest
	for p := range n {
		parts = append(parts, p)
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return false
	}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil || committed.Error != nil {
		return false
	}
	done := map[int]int64{}
	for _, p := range committed.Topics[topic] {
		done[p.Partition] = p.CommittedOffset
	}
	for _, p := range ends.Topics[topic] {
		if p.Error != nil || (p.LastOffset > 0 && done[p.Partition] < p.LastOffset) {
			return false
		}
	}
	return true
}

// SecuredBroker is a broker's SASL_SSL listener with its CA and users, as
// scripts/services-up.sh sets it up and writes to .services.env.
type SecuredBroker struct {
	Brokers                  []string
	CAFile                   string
	PlainUser, PlainPassword string
	ScramUser, ScramPassword string
}

// Secured returns the local SASL_SSL listener or fails the test saying
// how to provide it (the container path has none).
func Secured(t testing.TB) SecuredBroker {
	t.Helper()
	testenv.Integration(t)
	b := testenv.Lookup("SIGNINDIAG_TEST_KAFKA_SASL_SSL_BROKERS")
	if b == "" {
		t.Fatal("SIGNINDIAG_TEST_KAFKA_SASL_SSL_BROKERS is not set: start the local broker with scripts/services-up.sh " +
			"(its broker has a SASL_SSL listener) and load .services.env, or run 'make test'")
	}
	return SecuredBroker{Brokers: strings.Split(b, ","), CAFile: testenv.Lookup("SIGNINDIAG_TEST_KAFKA_TLS_CA_FILE"),
		PlainUser: testenv.Lookup("SIGNINDIAG_TEST_KAFKA_PLAIN_USERNAME"), PlainPassword: testenv.Lookup("SIGNINDIAG_TEST_KAFKA_PLAIN_PASSWORD"),
		ScramUser: testenv.Lookup("SIGNINDIAG_TEST_KAFKA_SCRAM_USERNAME"), ScramPassword: testenv.Lookup("SIGNINDIAG_TEST_KAFKA_SCRAM_PASSWORD")}
}

// UntrustedCA writes a CA certificate that signed nothing the broker has.
func UntrustedCA(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "someone else's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// PartitionCount is source.PartitionCount for a topic another process may
// have created a moment ago: kafka-go's default transport, shared by the
// test binary, answers from metadata it caches for a few seconds, so an
// unknown topic is asked for again until ctx ends.
func PartitionCount(ctx context.Context, brokers []string, topic string) (int, error) {
	for {
		n, err := source.PartitionCount(ctx, kafkaconn.Plain(brokers).Client(0), topic)
		if err == nil || !errors.Is(err, kafka.UnknownTopicOrPartition) || ctx.Err() != nil {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

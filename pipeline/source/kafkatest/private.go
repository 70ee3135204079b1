package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/internal/freeport"
	"github.com/signindiag/signindiag/internal/testenv"
)

// HowToProvideJars is printed when a private broker cannot be started.
const HowToProvideJars = `a private Kafka broker needs the Kafka jars and Java 17+. Either:
  - run 'make services-up' (fetches the jars into .services/kafka/jars-<version>; it needs mvn and java), or
  - set SIGNINDIAG_TEST_KAFKA_JARS to a directory holding kafka_2.13-<version>.jar and its dependencies;
  - java is $JAVA_HOME/bin/java, else the first java on PATH.
Run 'go test -short ./...' for the unit tests alone.`

// PrivateBroker is a single-node KRaft broker of one test, run from the
// jars scripts/services-up.sh fetched, for the faults that need a broker
// to go away (the shared one serves the other tests running in parallel).
// It keeps its ports and log directory across Stop and Start, so its data
// survives a restart as on a real cluster.
type PrivateBroker struct {
	t                testing.TB
	java, jars, dir  string
	port, controller int

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	logFrom int64         // the log's size when cmd started: its lines are after
}

// StartPrivateBroker formats a fresh log directory and starts a broker on
// free ports; it is killed when the test ends. Skipped under -short; fails
// with HowToProvideJars when the jars or Java are missing.
func StartPrivateBroker(t testing.TB) *PrivateBroker {
	t.Helper()
	testenv.Integration(t)
	java, err := javaBinary()
	if err != nil {
		t.Fatalf("private Kafka broker: %v.\n%s", err, HowToProvideJars)
	}
	jars, err := kafkaJars()
	if err != nil {
		t.Fatalf("private Kafka broker: %v.\n%s", err, HowToProvideJars)
	}
	b := &PrivateBroker{t: t, java: java, jars: jars, dir: t.TempDir(), port: freePort(t), controller: freePort(t)}
	t.Cleanup(b.Kill)
	if err := os.WriteFile(b.path("server.properties"), []byte(b.properties()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := b.javaCmd("-Xmx256m", "-XX:TieredStopAtLevel=1", "kafka.tools.StorageTool", "format", "--cluster-id", clusterID(),
		"--config", b.path("server.properties"), "--ignore-formatted").CombinedOutput(); err != nil {
		t.Fatalf("private Kafka broker: storage format: %v\n%s", err, out)
	}
	b.Start()
	return b
}

// Brokers is the broker's address list.
func (b *PrivateBroker) Brokers() []string { return []string{fmt.Sprintf("127.0.0.1:%d", b.port)} }

// Start launches the broker on its ports and log directory, and returns
// once it answers FindCoordinator (so consumer groups work at once).
func (b *PrivateBroker) Start() {
	b.t.Helper()
	b.mu.Lock()
	if b.cmd != nil {
		b.mu.Unlock()
		b.t.Fatal("private Kafka broker: started twice")
	}
	log, err := os.OpenFile(b.path("kafka.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.mu.Unlock()
		b.t.Fatal(err)
	}
	if st, err := log.Stat(); err == nil {
		b.logFrom = st.Size()
	}
	cmd := b.javaCmd("-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true", "kafka.Kafka", b.path("server.properties"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		b.mu.Unlock()
		_ = log.Close()
		b.t.Fatalf("private Kafka broker: start %s: %v", b.java, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = log.Close(); close(done) }()
	b.cmd, b.done = cmd, done
	b.mu.Unlock()

	deadline := time.Now().Add(90 * time.Second)
	for !b.ready() {
		select {
		case <-done:
			b.t.Fatalf("private Kafka broker exited during start-up:\n%s", b.logTail())
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("private Kafka broker not ready after 90s:\n%s", b.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop shuts the broker down cleanly (SIGTERM) and waits for it; it is
// killed if it takes longer than 60 seconds.
func (b *PrivateBroker) Stop() { b.halt(syscall.SIGTERM, 60*time.Second) }

// Kill crashes the broker (SIGKILL): nothing flushed but the page cache.
func (b *PrivateBroker) Kill() { b.halt(syscall.SIGKILL, 0) }

func (b *PrivateBroker) halt(sig syscall.Signal, grace time.Duration) {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd, b.done = nil, nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace + 5*time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// ready: the log says so and a consumer group's coordinator is available
// (kafka-go's ConsumerGroup returns COORDINATOR_NOT_AVAILABLE to its
// caller instead of retrying; see scripts/services-up.sh).
func (b *PrivateBroker) ready() bool {
	if !strings.Contains(b.logSinceStart(), "Kafka Server started") {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A transport of its own, closed at once: the default one would keep
	// a pool for the old broker address, and goleak would see it.
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(b.Brokers()...), Transport: transport}
	res, err := client.FindCoordinator(ctx, &kafka.FindCoordinatorRequest{Key: "signindiag-warmup", KeyType: kafka.CoordinatorKeyTypeConsumer})
	return err == nil && res.Error == nil
}

// logSinceStart is the broker's log since it last started.
func (b *PrivateBroker) logSinceStart() string {
	data, _ := os.ReadFile(b.path("kafka.log"))
	b.mu.Lock()
	from := b.logFrom
	b.mu.Unlock()
	return string(data[min(from, int64(len(data))):])
}

// logTail is the end of logSinceStart.
func (b *PrivateBroker) logTail() string {
	s := b.logSinceStart()
	if len(s) > 6000 {
		s = s[len(s)-6000:]
	}
	return s
}

func (b *PrivateBroker) path(name string) string { return filepath.Join(b.dir, name) }

// javaCmd is a java command on the Kafka class path.
func (b *PrivateBroker) javaCmd(args ...string) *exec.Cmd {
	args = append([]string{"-cp", filepath.Join(b.jars, "*")}, args...)
	//nolint:gosec // the java binary and its arguments are the test's own
	cmd := exec.Command(b.java, args...)
	cmd.Dir = b.dir
	return cmd
}

// properties is the configuration of scripts/services-up.sh's broker,
// without the SASL_SSL listener, on this broker's ports and directory.
func (b *PrivateBroker) properties() string {
	return fmt.Sprintf(`# Generated by kafkatest.StartPrivateBroker: single-node KRaft broker+controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=%[3]s
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.segment.bytes=67108864
`, b.port, b.controller, b.path("data"))
}

// javaBinary is $JAVA_HOME/bin/java, else java on PATH.
func javaBinary() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		if p := filepath.Join(home, "bin", "java"); isFile(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", errors.New("java not found (JAVA_HOME unset or without bin/java, and no java on PATH)")
	}
	return p, nil
}

// kafkaJars finds the jar directory: SIGNINDIAG_TEST_KAFKA_JARS, else
// .services/kafka/jars-* under SIGNINDIAG_SERVICES_DIR, the module root
// or, in a git worktree, the main checkout's (where 'make services-up'
// fetched them).
func kafkaJars() (string, error) {
	if dir := os.Getenv("SIGNINDIAG_TEST_KAFKA_JARS"); dir != "" {
		if !hasKafkaJar(dir) {
			return "", fmt.Errorf("SIGNINDIAG_TEST_KAFKA_JARS=%s holds no kafka_2.13-*.jar", dir)
		}
		return dir, nil
	}
	var looked []string
	for _, services := range servicesDirs() {
		pattern := filepath.Join(services, "kafka", "jars-*")
		looked = append(looked, pattern)
		matches, _ := filepath.Glob(pattern)
		for i := len(matches) - 1; i >= 0; i-- { // the newest version sorts last
			if isFile(filepath.Join(matches[i], ".complete")) && hasKafkaJar(matches[i]) {
				return matches[i], nil
			}
		}
	}
	return "", fmt.Errorf("no Kafka jars in %s, and SIGNINDIAG_TEST_KAFKA_JARS is not set", strings.Join(looked, ", "))
}

func servicesDirs() []string {
	if dir := os.Getenv("SIGNINDIAG_SERVICES_DIR"); dir != "" {
		return []string{dir}
	}
	var dirs []string
	if root, ok := moduleRoot(); ok {
		dirs = append(dirs, filepath.Join(root, ".services"))
	}
	// A worktree shares the main checkout's .services (git ignores it).
	if out, err := exec.Command("git", "rev-parse", "--path-format=absolute", "--git-common-dir").Output(); err == nil {
		main := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), ".services")
		if len(dirs) == 0 || dirs[0] != main {
			dirs = append(dirs, main)
		}
	}
	return dirs
}

// moduleRoot is the nearest directory above the working one with a go.mod.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func hasKafkaJar(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "kafka_2.13-*.jar"))
	return len(m) > 0
}

func isFile(p string) bool {
	st, err := os.Stat(p) //nolint:gosec // the test's own configuration (SIGNINDIAG_TEST_KAFKA_JARS), not untrusted input

	return err == nil && !st.IsDir()
}

func freePort(t testing.TB) int {
	t.Helper()
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// clusterID is a Kafka cluster id: 16 random bytes, URL-safe base64
// without padding, not starting with '-' (it would read as a flag).
func clusterID() string {
	for {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		if id := base64.RawURLEncoding.EncodeToString(b); id[0] != '-' {
			return id
		}
	}
}

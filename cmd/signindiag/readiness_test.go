package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signindiag/signindiag/health"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// breakableProxy forwards TCP connections to target until broken: then it
// cuts every open connection and closes new ones at once, as a ClickHouse
// that went away would.
type breakableProxy struct {
	l      net.Listener
	target string

	mu     sync.Mutex
	broken bool
	conns  map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *breakableProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &breakableProxy{l: l, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { l.Close(); p.setBroken(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *breakableProxy) addr() string { return p.l.Addr().String() }

func (p *breakableProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *breakableProxy) serve(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

func (p *breakableProxy) setBroken(broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = broken
	if broken {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// When ClickHouse stops answering, /readyz turns 503 within the bound and
// names the diagnose stage, without addresses or driver text; when it comes
// back, the stage catches up and the process is ready again.
func TestReadyzReportsAStageWhoseFlushesFail(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	chCfg := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("ready")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })
	proxy := startProxy(t, chCfg.Addr)
	viaProxy := chCfg
	viaProxy.Addr = proxy.addr()
	proc := startProcess(t, "run", processEnv(brokers, viaProxy, prefix, map[string]string{
		"SIGNINDIAG_READY_FLUSH_FAILING":     "2s",
		"SIGNINDIAG_CLICKHOUSE_DIAL_TIMEOUT": "1s",
	}))
	proc.waitReady(t)

	proxy.setBroken(true)
	kafkatest.Produce(t, brokers, prefix+"-signins", graphJSON(t, mkSignIn("ready-1", "rita", time.Now().Add(-time.Minute), 50126)))
	var st health.Status
	var body string
	eventually(t, 30*time.Second, "/readyz 503 naming the diagnose stage", func() bool {
		resp, err := http.Get(proc.url("/readyz"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		if resp.StatusCode != http.StatusServiceUnavailable {
			return false
		}
		for _, p := range parseStatus(t, b, &st) {
			if p.Check == "pipeline" && p.Stage == "diagnose" && strings.HasPrefix(p.Reason, "flushes failing for ") {
				return true
			}
		}
		return false
	})
	if st.Checks["clickhouse"] != "ClickHouse does not answer" {
		t.Errorf("clickhouse check: %q", st.Checks["clickhouse"])
	}
	for _, leak := range []string{proxy.addr(), "127.0.0.1", "dial", "EOF", "connection"} {
		if strings.Contains(body, leak) {
			t.Errorf("/readyz shows %q: %s", leak, body)
		}
	}
	metrics := proc.metricsText(t)
	if !strings.Contains(metrics, `signindiag_ready 0`) || !strings.Contains(metrics, `signindiag_stage_flush_failing_seconds{stage="diagnose"}`) {
		t.Errorf("metrics lack signindiag_ready 0 or the diagnose stage's failing time")
	}

	proxy.setBroken(false)
	proc.waitReady(t)
	conn := rawConn(t, chCfg)
	eventually(t, 30*time.Second, "the sign-in stored after ClickHouse came back", func() bool {
		return countDistinct(t, conn, chCfg.Database, "signins") == 1
	})
	proc.stop()
}

func parseStatus(t *testing.T, body []byte, st *health.Status) []health.Problem {
	t.Helper()
	*st = health.Status{}
	if err := json.Unmarshal(body, st); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	return st.Problems
}

func (p *process) metricsText(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(p.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// From SIGTERM on, /readyz says "shutting down" while the final flush
// runs; a second SIGTERM exits at once with code 1 and one log line.
func TestShutdownIsNotReadyAndASecondSignalExits(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	chCfg := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("drain")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })
	proxy := startProxy(t, chCfg.Addr)
	viaProxy := chCfg
	viaProxy.Addr = proxy.addr()
	proc := startProcess(t, "run", processEnv(brokers, viaProxy, prefix, map[string]string{
		"SIGNINDIAG_SHUTDOWN_TIMEOUT":        "5m", // the final flush would wait for ClickHouse this long
		"SIGNINDIAG_CLICKHOUSE_DIAL_TIMEOUT": "1s",
	}))
	proc.waitReady(t)
	// ClickHouse goes away with a batch pending: the final flush cannot end.
	proxy.setBroken(true)
	kafkatest.Produce(t, brokers, prefix+"-signins", graphJSON(t, mkSignIn("drain-1", "dora", time.Now().Add(-time.Minute), 50126)))
	eventually(t, 30*time.Second, "a failed flush", func() bool {
		return strings.Contains(proc.metricsText(t), `signindiag_stage_last_flush_failure_age_seconds{stage="diagnose"}`)
	})

	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var st health.Status
	eventually(t, 10*time.Second, `/readyz 503 "shutting down"`, func() bool {
		resp, err := http.Get(proc.url("/readyz"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable {
			return false
		}
		for _, p := range parseStatus(t, b, &st) {
			if p.Check == "process" && p.Reason == "shutting down" {
				return true
			}
		}
		return false
	})
	select {
	case err := <-proc.done:
		t.Fatalf("exited before the second signal: %v", err)
	default:
	}
	start := time.Now()
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-proc.done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("exit after the second signal: %v, want exit code 1", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after the second signal")
	}
	t.Logf("exited %s after the second signal", time.Since(start).Round(time.Millisecond))
	logText, err := os.ReadFile(proc.log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(logText), "second signal during shutdown"); n != 1 {
		t.Errorf("%d log lines about the second signal, want 1", n)
	}
}

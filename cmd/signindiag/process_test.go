package main

// Helpers of the end-to-end tests: they build the real binary and run it
// as a separate process, so a kill -9 is a real crash.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/signindiag/signindiag/internal/freeport"
	"github.com/signindiag/signindiag/sinks/clickhouse"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "signindiag-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "signindiag")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  string
	addr string
	done chan error
}

// startProcess runs `signindiag <command> [args]` with env on top of ours.
func startProcess(t *testing.T, command string, env map[string]string, args ...string) *process {
	t.Helper()
	bin := buildBinary(t)
	addr := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), command+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{command}, args...)...)
	cmd.Env = append(os.Environ(), "SIGNINDIAG_HTTP_ADDR="+addr)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, cmd: cmd, log: logPath, addr: addr, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			p.dumpLog()
		}
	})
	return p
}

func (p *process) dumpLog() {
	data, _ := os.ReadFile(p.log)
	lines := strings.Split(string(data), "\n")
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	p.t.Logf("last lines of %s:\n%s", p.log, strings.Join(lines, "\n"))
}

// kill crashes the process: no flush, no commit.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done //nolint:errcheck // killed: the exit status says so and nothing more
}

// stop sends SIGTERM and expects a clean exit.
func (p *process) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			p.dumpLog()
			p.t.Fatalf("signindiag exited with %v after SIGTERM", err)
		}
	case <-time.After(60 * time.Second):
		p.t.Fatal("signindiag did not stop within 60s of SIGTERM")
	}
}

func (p *process) url(path string) string { return "http://" + p.addr + path }

// getJSON fetches path into v and returns the status code.
func (p *process) getJSON(path string, v any) (int, error) {
	resp, err := http.Get(p.url(path))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: %w (%q)", path, err, body)
		}
	}
	return resp.StatusCode, nil
}

func (p *process) waitReady(t *testing.T) {
	t.Helper()
	eventually(t, 90*time.Second, "signindiag ready", func() bool {
		select {
		case err := <-p.done:
			p.dumpLog()
			t.Fatalf("signindiag exited early: %v", err)
		default:
		}
		code, _ := p.getJSON("/readyz", nil)
		return code == http.StatusOK
	})
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// processEnv is the configuration of a run against the test's services.
func processEnv(brokers []string, cfg clickhouse.Config, prefix string, extra map[string]string) map[string]string {
	env := map[string]string{
		"SIGNINDIAG_KAFKA_BROKERS":       strings.Join(brokers, ","),
		"SIGNINDIAG_KAFKA_SIGNIN_TOPIC":  prefix + "-signins",
		"SIGNINDIAG_KAFKA_FLAG_TOPIC":    prefix + "-flags",
		"SIGNINDIAG_KAFKA_DLQ_TOPIC":     prefix + "-dlq",
		"SIGNINDIAG_KAFKA_KEYED_TOPIC":   prefix + "-keyed",
		"SIGNINDIAG_KAFKA_IP_TOPIC":      prefix + "-byip",
		"SIGNINDIAG_KAFKA_GROUP":         prefix,
		"SIGNINDIAG_KAFKA_PARTITIONS":    "3",
		"SIGNINDIAG_CLICKHOUSE_ADDR":     cfg.Addr,
		"SIGNINDIAG_CLICKHOUSE_USER":     cfg.User,
		"SIGNINDIAG_CLICKHOUSE_PASSWORD": cfg.Password,
		"SIGNINDIAG_CLICKHOUSE_DATABASE": cfg.Database,
		"SIGNINDIAG_FLUSH_INTERVAL":      "200ms",
		"SIGNINDIAG_BATCH_SIZE":          "50",
		// A killed member's partitions move after this; the default 30s
		// would only slow the tests down.
		"SIGNINDIAG_KAFKA_SESSION_TIMEOUT": "6s",
		// The fixtures' sign-ins are from March 2025: accept ten years back.
		"SIGNINDIAG_MAX_EVENT_AGE": "87600h",
		// The failure_spike detector reads the wall clock's last hours;
		// tests that compare every stored incident keep it out, the spike
		// test turns it on (spikes_e2e_test.go).
		"SIGNINDIAG_SPIKES_DETECT": "false",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func topicNames(prefix string) []string {
	return []string{prefix + "-signins", prefix + "-flags", prefix + "-dlq", prefix + "-keyed", prefix + "-byip",
		prefix + "-storage-deadletter"} // the default of a group named prefix
}

// rawConn opens a driver connection to inspect a test database directly.
func rawConn(t *testing.T, cfg clickhouse.Config) driver.Conn {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{cfg.Addr}, Auth: ch.Auth{Username: cfg.User, Password: cfg.Password}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func countDistinct(t *testing.T, conn driver.Conn, db, table string) uint64 {
	t.Helper()
	var n uint64
	// Generous: the soak polls millions of rows while ClickHouse merges
	// and the machine is saturated on purpose.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT uniqExact(id) FROM %s.%s", db, table)).Scan(&n); err != nil {
		if strings.Contains(err.Error(), "doesn't exist") || strings.Contains(err.Error(), "UNKNOWN_TABLE") || strings.Contains(err.Error(), "Code: 60") || strings.Contains(err.Error(), "Code: 81") {
			return 0
		}
		t.Fatal(err)
	}
	return n
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

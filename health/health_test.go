package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func get(t *testing.T, mux *http.ServeMux) (int, Status, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	body := rec.Body.String()
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return rec.Code, st, body
}

func TestReadyzNamesReasonsInWordsAndLogsRawErrors(t *testing.T) {
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	raw := errors.New("dial tcp 10.1.2.3:9000: connect: connection refused")
	chDown := true
	var pipeline error
	h := New(log, func() any { return []string{"stage details"} },
		Check{Name: "clickhouse", Unready: "ClickHouse does not answer", Probe: func(context.Context) error {
			if chDown {
				return raw
			}
			return nil
		}},
		Check{Name: "pipeline", Probe: func(context.Context) error { return pipeline }})
	mux := http.NewServeMux()
	h.Register(mux)

	code, st, body := get(t, mux)
	if code != http.StatusServiceUnavailable || st.Ready || st.Checks["clickhouse"] != "ClickHouse does not answer" || st.Checks["pipeline"] != "ok" {
		t.Fatalf("clickhouse down: %d %s", code, body)
	}
	if strings.Contains(body, "10.1.2.3") || strings.Contains(body, "refused") {
		t.Fatalf("body shows the raw error: %s", body)
	}
	if !strings.Contains(logBuf.String(), "level=WARN") || !strings.Contains(logBuf.String(), "10.1.2.3") {
		t.Fatalf("raw error not logged at WARN: %s", logBuf.String())
	}
	// The same error again is not logged again within a minute.
	logBuf.Reset()
	get(t, mux)
	if logBuf.Len() != 0 {
		t.Fatalf("logged again: %s", logBuf.String())
	}

	chDown = false
	pipeline = Problems{{Stage: "diagnose", Reason: "flushes failing for 45s"}}
	code, st, body = get(t, mux)
	if code != http.StatusServiceUnavailable || len(st.Problems) != 1 ||
		st.Problems[0] != (Problem{Check: "pipeline", Stage: "diagnose", Reason: "flushes failing for 45s"}) ||
		st.Checks["pipeline"] != "diagnose: flushes failing for 45s" || !strings.Contains(body, "stage details") {
		t.Fatalf("pipeline failing: %d %s", code, body)
	}

	pipeline = nil
	if code, st, body = get(t, mux); code != http.StatusOK || !st.Ready || len(st.Problems) != 0 {
		t.Fatalf("all well: %d %s", code, body)
	}

	h.Drain()
	code, st, body = get(t, mux)
	if code != http.StatusServiceUnavailable || len(st.Problems) != 1 || st.Problems[0].Reason != "shutting down" {
		t.Fatalf("draining: %d %s", code, body)
	}
}

func TestWarnIsRateLimitedButRepeatsAfterAMinuteOrAChange(t *testing.T) {
	var logBuf bytes.Buffer
	h := New(slog.New(slog.NewTextHandler(&logBuf, nil)), nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.now = func() time.Time { return now }
	count := func() int { return strings.Count(logBuf.String(), "readiness check failed") }
	h.warn("kafka", errors.New("a"))
	h.warn("kafka", errors.New("a"))
	now = now.Add(59 * time.Second)
	h.warn("kafka", errors.New("a"))
	if count() != 1 {
		t.Fatalf("logged %d times within a minute", count())
	}
	h.warn("kafka", errors.New("b"))
	now = now.Add(time.Minute)
	h.warn("kafka", errors.New("b"))
	if count() != 3 {
		t.Fatalf("logged %d times, want 3 (first, changed, a minute later)", count())
	}
}

func TestReadyGauge(t *testing.T) {
	ready := true
	h := New(slog.New(slog.DiscardHandler), nil, Check{Name: "x", Unready: "x is down", Probe: func(context.Context) error {
		if ready {
			return nil
		}
		return errors.New("down")
	}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(h)
	const head = "# HELP signindiag_ready 1 when /readyz answers 200 (every check passes and the process is not shutting down), else 0.\n# TYPE signindiag_ready gauge\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(head+"signindiag_ready 1\n")); err != nil {
		t.Fatal(err)
	}
	ready = false
	if err := testutil.GatherAndCompare(reg, strings.NewReader(head+"signindiag_ready 0\n")); err != nil {
		t.Fatal(err)
	}
}

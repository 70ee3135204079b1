// Package health serves /healthz (the process is up) and /readyz (every
// check passes and the process is not shutting down), as orchestrators
// probe them, and exports the same verdict as the signindiag_ready gauge.
//
// The /readyz body names the failing check (and stage) with a reason in
// words; raw errors, which carry addresses and driver text, go to the log
// at WARN instead.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Problem is one reason not to be ready, fit for the response body: it
// names no address and carries no raw error text.
type Problem struct {
	Check  string `json:"check"`
	Stage  string `json:"stage,omitempty"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	if p.Stage != "" {
		return p.Stage + ": " + p.Reason
	}
	return p.Reason
}

// Problems is an error made of reasons fit for the response body; a probe
// returns it to say why in words.
type Problems []Problem

func (ps Problems) Error() string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += "; "
		}
		s += p.String()
	}
	return s
}

// Check is one readiness probe.
type Check struct {
	Name string
	// Probe returns nil when ready, Problems to say why not in words, or
	// any other error, which is logged at WARN and reported as Unready.
	Probe func(ctx context.Context) error
	// Unready is the reason reported when Probe fails with a plain error,
	// e.g. "ClickHouse does not answer".
	Unready string
}

// Health runs the checks.
type Health struct {
	checks   []Check
	details  func() any
	log      *slog.Logger
	now      func() time.Time
	draining atomic.Bool
	timeout  time.Duration

	mu     sync.Mutex
	logged map[string]logState // per check: what was last logged, when

	readyDesc *prometheus.Desc
}

type logState struct {
	text string
	at   time.Time
}

// warnEvery bounds how often an unchanged probe error is logged again.
const warnEvery = time.Minute

// New returns the checks' health. details, when not nil, adds its value to
// the /readyz body under "stages".
func New(log *slog.Logger, details func() any, checks ...Check) *Health {
	return &Health{checks: checks, details: details, log: log, now: time.Now, timeout: 3 * time.Second,
		logged: map[string]logState{},
		readyDesc: prometheus.NewDesc("signindiag_ready",
			"1 when /readyz answers 200 (every check passes and the process is not shutting down), else 0.", nil, nil)}
}

// Drain marks the process as shutting down: not ready from now on, so
// load balancers stop sending while the pipeline flushes.
func (h *Health) Drain() { h.draining.Store(true) }

// Status is the /readyz body.
type Status struct {
	Ready bool `json:"ready"`
	// Checks maps every check to "ok" or its reasons.
	Checks   map[string]string `json:"checks"`
	Problems []Problem         `json:"problems"`
	Stages   any               `json:"stages,omitempty"`
}

// Status runs every check.
func (h *Health) Status(ctx context.Context) Status {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	st := Status{Checks: map[string]string{}, Problems: []Problem{}}
	if h.draining.Load() {
		st.Problems = append(st.Problems, Problem{Check: "process", Reason: "shutting down"})
		st.Checks["process"] = "shutting down"
	}
	for _, c := range h.checks {
		err := c.Probe(ctx)
		var ps Problems
		switch {
		case err == nil:
			st.Checks[c.Name] = "ok"
			h.forget(c.Name)
			continue
		case errors.As(err, &ps):
			for _, p := range ps {
				p.Check = c.Name
				st.Problems = append(st.Problems, p)
			}
		default:
			h.warn(c.Name, err)
			ps = Problems{{Check: c.Name, Reason: c.Unready}}
			st.Problems = append(st.Problems, ps...)
		}
		st.Checks[c.Name] = ps.Error()
	}
	st.Ready = len(st.Problems) == 0
	if h.details != nil {
		st.Stages = h.details()
	}
	return st
}

// warn logs a probe's raw error at WARN, again only when it changes or
// after warnEvery, so a probe every few seconds does not flood the log.
func (h *Health) warn(name string, err error) {
	h.mu.Lock()
	last, now := h.logged[name], h.now()
	log := last.text != err.Error() || now.Sub(last.at) >= warnEvery
	if log {
		h.logged[name] = logState{text: err.Error(), at: now}
	}
	h.mu.Unlock()
	if log {
		h.log.Warn("readiness check failed", "check", name, "err", err)
	}
}

func (h *Health) forget(name string) {
	h.mu.Lock()
	delete(h.logged, name)
	h.mu.Unlock()
}

// Register adds /healthz and /readyz to mux.
func (h *Health) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		st := h.Status(r.Context())
		status := http.StatusOK
		if !st.Ready {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(st)
	})
}

// Describe implements prometheus.Collector.
func (h *Health) Describe(ch chan<- *prometheus.Desc) { ch <- h.readyDesc }

// Collect implements prometheus.Collector: it runs the checks, as /readyz
// does.
func (h *Health) Collect(ch chan<- prometheus.Metric) {
	v := 0.0
	if h.Status(context.Background()).Ready {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(h.readyDesc, prometheus.GaugeValue, v)
}

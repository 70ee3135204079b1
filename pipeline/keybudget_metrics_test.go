package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signindiag/signindiag/pipeline/window"
)

func TestKeyBudgetMetricsFollowTheBudget(t *testing.T) {
	b := window.NewBudget(1)
	w := window.New(48*time.Hour, 0).WithBudget(b)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w.ObserveFailure("a", "1", at)
	w.ObserveFailure("b", "2", at) // refused
	reg := prometheus.NewRegistry()
	reg.MustRegister(KeyBudgetCollector(b))
	want := `
# HELP signindiag_window_keys_limit The bound on tracked users (SIGNINDIAG_MAX_WINDOW_KEYS; 0: none).
# TYPE signindiag_window_keys_limit gauge
signindiag_window_keys_limit 1
# HELP signindiag_window_keys_refused_total New users not tracked because the bound was reached: their failures are stored, their findings' counts marked partial.
# TYPE signindiag_window_keys_refused_total counter
signindiag_window_keys_refused_total 1
# HELP signindiag_window_keys_tracked Users the process's failure windows track now (all partitions).
# TYPE signindiag_window_keys_tracked gauge
signindiag_window_keys_tracked 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

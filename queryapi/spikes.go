package queryapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/spikes/report"
)

// spikes answers /v1/spikes: failure counts (or, with of, counts of all
// sign-ins or of those with a finding) by event time of the top values of
// a dimension, each bucket with its baseline, robust z-score and spike
// verdict (see package spikes).
//
//	?by=errorCode|scenario|app|clientApp|country|ip|all   (default all)
//	?of=failures|signins|findings   (default failures)
//	?step=5m|15m|1h  (default: 5m up to a day, 15m up to a week, else 1h)
//	?from=&to=       RFC 3339 (default: the last 24 hours)
//	?top=1-50        series, the values with the most failures (default 10)
func (a *API) spikes(w http.ResponseWriter, r *http.Request) {
	src, ok := a.reader.(sinks.SpikeSource)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, Error{Error: "this store does not keep failure counts"})
		return
	}
	q := r.URL.Query()
	rq := report.Query{By: sinks.DimAll, Top: report.DefaultTop}
	if s := q.Get("by"); s != "" {
		rq.By = ""
		var names []string
		for _, d := range sinks.Dimensions {
			names = append(names, string(d))
			if string(d) == s {
				rq.By = d
			}
		}
		if rq.By == "" {
			badRequest(w, "by", fmt.Sprintf("expected one of %s, got %q", strings.Join(names, ", "), s))
			return
		}
	}
	if s := q.Get("of"); s != "" {
		for _, o := range sinks.Populations {
			if string(o) == s {
				rq.Of = o
			}
		}
		if rq.Of == "" {
			badRequest(w, "of", fmt.Sprintf("expected failures, signins or findings, got %q", s))
			return
		}
	}
	now := a.cfg.Now().UTC()
	rq.To, rq.From = now, now.Add(-24*time.Hour)
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"from", &rq.From}, {"to", &rq.To}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				badRequest(w, p.name, fmt.Sprintf("expected an RFC 3339 time such as 2025-03-04T09:12:31Z, got %q", s))
				return
			}
			*p.to = t.UTC()
		}
	}
	if !rq.From.Before(rq.To) {
		badRequest(w, "from", fmt.Sprintf("from (%s) must be before to (%s)", rq.From.Format(time.RFC3339), rq.To.Format(time.RFC3339)))
		return
	}
	span := rq.To.Sub(rq.From)
	switch s := q.Get("step"); {
	case s != "":
		step, ok := report.Steps[s]
		if !ok {
			badRequest(w, "step", fmt.Sprintf("expected 5m, 15m or 1h, got %q", s))
			return
		}
		rq.Step = step
	case span <= 24*time.Hour:
		rq.Step = 5 * time.Minute
	case span <= 7*24*time.Hour:
		rq.Step = 15 * time.Minute
	default:
		rq.Step = time.Hour
	}
	if n := span / rq.Step; n > report.MaxBuckets {
		badRequest(w, "from", fmt.Sprintf("%s to %s is %d buckets of %s, at most %d: narrow the range or widen the step",
			rq.From.Format(time.RFC3339), rq.To.Format(time.RFC3339), n, report.StepName(rq.Step), report.MaxBuckets))
		return
	}
	if s := q.Get("top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > report.MaxTop {
			badRequest(w, "top", fmt.Sprintf("expected a whole number from 1 to %d, got %q", report.MaxTop, s))
			return
		}
		rq.Top = n
	}
	rep, err := report.Build(r.Context(), src, a.cfg.Spikes, rq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

package queryapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/sinks"
)

// incidentsPage bounds one page of /v1/incidents.
const incidentsPage = 100

// Incident is an incident of a windowed detection as /v1/incidents lists
// it. Every sign-in of Key that qualifies for the detection and lies in
// [firstEventAt, lastEventAt] is a member (its /v1/diagnose shows the
// incident).
type Incident struct {
	ID              string    `json:"id"`
	Detection       string    `json:"detection"`
	Key             string    `json:"key"`
	KeyKind         string    `json:"keyKind"`
	StartedAt       time.Time `json:"startedAt"`
	FirstEventAt    time.Time `json:"firstEventAt"`
	LastEventAt     time.Time `json:"lastEventAt"`
	Count           int       `json:"count"`
	Window          string    `json:"window"`
	Threshold       int       `json:"threshold"`
	Severity        string    `json:"severity"`
	Title           string    `json:"title"`
	Summary         string    `json:"summary"`
	Recommendations []string  `json:"recommendations"`
	// Details are the detection's own facts (failure_spike: dimension,
	// value, count, baseline, score and the top users, apps, IPs and
	// codes in the spike), as stored.
	Details json.RawMessage `json:"details,omitempty"`
}

// IncidentList is the answer of /v1/incidents.
type IncidentList struct {
	Incidents []Incident `json:"incidents"`
	// Next, when set, is the `cursor` of the next page.
	Next string `json:"next,omitempty"`
}

// incidents lists incidents, the latest start first:
// ?detection (a registered detection), ?key (a user's object id or UPN, or
// an IP address), ?from and ?to (RFC 3339: incidents whose events overlap
// them), ?limit (1-100) and ?cursor (the previous page's next).
func (a *API) incidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	iq := sinks.IncidentQuery{Limit: incidentsPage, Detection: q.Get("detection")}
	var d *rules.Detection
	// failure_spike incidents come from the spike detector, not from a
	// windowed detection: listed, but without a key kind or window.
	spikes := iq.Detection == rules.ScenarioFailureSpike
	if iq.Detection != "" && !spikes {
		if d = a.detection(iq.Detection); d == nil {
			var names []string
			for _, d := range a.cfg.Detections {
				names = append(names, d.Scenario)
			}
			names = append(names, rules.ScenarioFailureSpike)
			badRequest(w, "detection", fmt.Sprintf("expected one of %s, got %q", strings.Join(names, ", "), iq.Detection))
			return
		}
	}
	if key := q.Get("key"); key != "" {
		iq.Keys = []string{key}
		if !spikes && (d == nil || d.Key == rules.KeyUser) {
			// User keys are stored lower-cased; IP addresses as given.
			if lower := strings.ToLower(key); lower != key {
				iq.Keys = append(iq.Keys, lower)
			}
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > incidentsPage {
			badRequest(w, "limit", fmt.Sprintf("expected a whole number from 1 to %d, got %q", incidentsPage, s))
			return
		}
		iq.Limit = n
	}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"from", &iq.From}, {"to", &iq.To}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				badRequest(w, p.name, fmt.Sprintf("expected an RFC 3339 time such as 2025-03-04T09:12:31Z, got %q", s))
				return
			}
			*p.to = t.UTC()
		}
	}
	if s := q.Get("cursor"); s != "" {
		ms, id, ok := strings.Cut(s, ".")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || id == "" {
			badRequest(w, "cursor", fmt.Sprintf("expected the previous page's next, got %q", s))
			return
		}
		iq.AfterStart, iq.AfterID = time.UnixMilli(n).UTC(), id
	}
	recs, err := a.reader.Incidents(r.Context(), iq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := IncidentList{Incidents: []Incident{}}
	for _, rec := range recs {
		in := Incident{ID: rec.ID, Detection: rec.Detection, Key: rec.Key, StartedAt: rec.Start, FirstEventAt: rec.First,
			LastEventAt: rec.Last, Count: rec.Count, Severity: rec.Severity, Title: rec.Title, Summary: rec.Summary,
			Recommendations: rec.Recommendations, Details: rec.Details}
		if d := a.detection(rec.Detection); d != nil {
			in.KeyKind, in.Window, in.Threshold = string(d.Key), d.Window.String(), d.Threshold
		}
		out.Incidents = append(out.Incidents, in)
	}
	if len(recs) == iq.Limit {
		last := recs[len(recs)-1]
		out.Next = fmt.Sprintf("%d.%s", last.Start.UnixMilli(), last.ID)
	}
	writeJSON(w, http.StatusOK, out)
}

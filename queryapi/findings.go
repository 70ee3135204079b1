package queryapi

import (
	"net/http"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// FindingList is the answer of GET /v1/findings.
type FindingList struct {
	Findings []schemas.Finding `json:"findings"`
	// Next, when set, is the `cursor` of the next page.
	Next string `json:"next,omitempty"`
}

// listFindings: ?user, ?app, ?scenario, ?severity, ?flagged, ?from, ?to,
// ?limit, ?cursor. Stored findings only: incidents are listed by
// /v1/incidents.
func (a *API) listFindings(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "user", "app", "scenario", "severity", "flagged", "from", "to", "limit", "cursor")
	q := sinks.FindingListQuery{User: p.str("user"), App: p.str("app"), Scenario: p.ident("scenario"),
		Severity: p.oneOf("severity", schemas.SeverityInfo, schemas.SeverityLow, schemas.SeverityMedium, schemas.SeverityHigh),
		Flagged:  p.boolean("flagged")}
	q.From, q.To = p.timeRange(a.cfg.Now().UTC(), a.cfg.DefaultRange, a.cfg.MaxRange)
	q.Limit = p.limit(listPage, listPage)
	if c, ok := p.cursor("cursor"); ok {
		q.AfterAt, q.AfterID = c.at, c.id
	}
	if !p.ok(w) {
		return
	}
	q.Limit++
	got, err := a.reader.ListFindings(r.Context(), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := FindingList{Findings: []schemas.Finding{}}
	if len(got) == q.Limit {
		got = got[:q.Limit-1]
		last := got[len(got)-1]
		out.Next = flaggedCursor{at: last.OccurredAt, id: last.ID}.String()
	}
	out.Findings = append(out.Findings, got...)
	writeJSON(w, http.StatusOK, out)
}

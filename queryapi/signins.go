package queryapi

import (
	"fmt"
	"math"
	"net/http"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// listPage bounds a page of the list endpoints.
const listPage = 100

// SignInList is the answer of GET /v1/signins.
type SignInList struct {
	SignIns []schemas.SignIn `json:"signIns"`
	// Next, when set, is the `cursor` of the next page.
	Next string `json:"next,omitempty"`
}

// SignInDetail is the answer of GET /v1/signins/{id}.
type SignInDetail struct {
	SignIn            schemas.SignIn    `json:"signIn"`
	DiagnosticResults []schemas.Finding `json:"diagnosticResults"`
}

// listSignIns: ?user, ?app, ?ip, ?errorCode, ?from, ?to, ?limit, ?cursor.
func (a *API) listSignIns(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "user", "app", "ip", "errorCode", "from", "to", "limit", "cursor")
	q := sinks.SignInListQuery{User: p.str("user"), App: p.str("app"), IP: p.str("ip"),
		ErrorCode: p.integer("errorCode", 0, math.MaxInt32)}
	q.From, q.To = p.timeRange(a.cfg.Now().UTC(), a.cfg.DefaultRange, a.cfg.MaxRange)
	q.Limit = p.limit(listPage, listPage)
	if c, ok := p.cursor("cursor"); ok {
		q.AfterMs, q.AfterID = c.at.UnixMilli(), c.id
	}
	if !p.ok(w) {
		return
	}
	q.Limit++ // one more tells whether there is a next page
	got, err := a.reader.ListSignIns(r.Context(), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := SignInList{SignIns: []schemas.SignIn{}}
	if len(got) == q.Limit {
		got = got[:q.Limit-1]
		last := got[len(got)-1]
		out.Next = flaggedCursor{at: last.CreatedDateTime, id: last.ID}.String()
	}
	out.SignIns = append(out.SignIns, got...)
	writeJSON(w, http.StatusOK, out)
}

// signIn answers one sign-in by id (or request id) with its diagnosis.
func (a *API) signIn(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	id := p.check("id", r.PathValue("id"))
	if !p.ok(w) {
		return
	}
	si, err := a.lookupSignIn(r, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	findings, err := a.findingsWithEvidence(r, []schemas.SignIn{*si})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if findings == nil {
		findings = []schemas.Finding{}
	}
	writeJSON(w, http.StatusOK, SignInDetail{SignIn: *si, DiagnosticResults: findings})
}

// lookupSignIn returns the newest sign-in with this id or request id, or
// an error wrapping sinks.ErrNotFound.
func (a *API) lookupSignIn(r *http.Request, id string) (*schemas.SignIn, error) {
	got, err := a.reader.SignIns(r.Context(), sinks.SignInQuery{RequestID: id, Limit: 10})
	if err != nil {
		return nil, err
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("%w: no sign-in has the id %q", sinks.ErrNotFound, id)
	}
	return &got[0], nil
}

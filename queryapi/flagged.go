package queryapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/signindiag/signindiag/access"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// flaggedPage is the portal's limit: "a list of up to 100" flagged sign-ins.
const flaggedPage = 100

// FlaggedList is the answer of /v1/flagged.
type FlaggedList struct {
	Flagged []FlaggedItem `json:"flagged"`
	// Next, when set, is the `before` value of the next page: an opaque
	// cursor (the last flag's time and id, so flags of the same second
	// are neither lost nor repeated between pages).
	Next string `json:"next,omitempty"`
}

// FlaggedItem is one flagged sign-in with its diagnosis.
type FlaggedItem struct {
	FlaggedAt         time.Time         `json:"flaggedAt"`
	FlaggedBy         string            `json:"flaggedBy,omitempty"`
	SignIn            schemas.SignIn    `json:"signIn"`
	DiagnosticResults []schemas.Finding `json:"diagnosticResults"`
	// Acknowledged, when set, is the latest acknowledgement by an admin.
	Acknowledged *sinks.Acknowledgement `json:"acknowledged,omitempty"`
}

// AcknowledgeRequest is the optional body of POST /v1/flagged/{id}/acknowledge.
type AcknowledgeRequest struct {
	Comment string `json:"comment"`
}

// flagged lists flagged sign-ins, the most recently flagged first, with
// their findings. Paging: ?limit (1-100) and ?before (the previous page's
// next; an RFC 3339 time is still accepted and pages on time alone).
func (a *API) flagged(w http.ResponseWriter, r *http.Request) {
	if !newParams(r, "limit", "before").ok(w) {
		return
	}
	q := r.URL.Query()
	fq := sinks.FlaggedQuery{Limit: flaggedPage}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > flaggedPage {
			badRequest(w, "limit", fmt.Sprintf("expected a whole number from 1 to %d, got %q", flaggedPage, s))
			return
		}
		fq.Limit = n
	}
	if s := q.Get("before"); s != "" {
		c, err := parseFlaggedCursor(s)
		if err != nil {
			badRequest(w, "before", fmt.Sprintf("expected the previous page's next or an RFC 3339 time, got %q (%v)", s, err))
			return
		}
		fq.Before, fq.BeforeID = c.at, c.id
	}
	items, err := a.reader.Flagged(r.Context(), fq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	signIns := make([]schemas.SignIn, len(items))
	for i, it := range items {
		signIns[i] = it.SignIn
	}
	findings, err := a.findingsWithEvidence(r, signIns)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	bySignIn := map[string][]schemas.Finding{}
	for _, f := range findings {
		if len(f.MemberSignInIDs) == 0 {
			bySignIn[f.SignInID] = append(bySignIn[f.SignInID], f)
		}
		for _, id := range f.MemberSignInIDs { // an incident: on each member
			bySignIn[id] = append(bySignIn[id], f)
		}
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.SignIn.ID
	}
	acks, err := a.reader.Acknowledgements(r.Context(), ids)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := FlaggedList{Flagged: []FlaggedItem{}}
	for _, it := range items {
		fs := bySignIn[it.SignIn.ID]
		if fs == nil {
			fs = []schemas.Finding{}
		}
		item := FlaggedItem{FlaggedAt: it.FlaggedAt, FlaggedBy: it.FlaggedBy, SignIn: it.SignIn, DiagnosticResults: fs}
		if ack, ok := acks[it.SignIn.ID]; ok {
			item.Acknowledged = &ack
		}
		out.Flagged = append(out.Flagged, item)
	}
	if len(items) >= fq.Limit {
		last := items[len(items)-1]
		out.Next = flaggedCursor{at: last.FlaggedAt, id: last.FlagID}.String()
	}
	writeJSON(w, http.StatusOK, out)
}

// acknowledge records that an admin dealt with a flagged sign-in: 404 for
// an unknown id, 409 for a sign-in that is not flagged.
func (a *API) acknowledge(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	id := p.check("id", r.PathValue("id"))
	if !p.ok(w) {
		return
	}
	var req AcknowledgeRequest
	if !readBody(w, r, &req, true) || !validComment(w, req.Comment) {
		return
	}
	si, err := a.lookupSignIn(r, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !si.FlaggedForReview {
		writeJSON(w, http.StatusConflict, Error{Error: fmt.Sprintf("the sign-in %q is not flagged for review", si.ID), Parameter: "id"})
		return
	}
	ack := sinks.Acknowledgement{SignInID: si.ID, At: a.cfg.Now().UTC().Truncate(time.Millisecond),
		By: access.PrincipalOf(r).Label, Comment: req.Comment}
	if err := a.reader.Acknowledge(r.Context(), ack); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ack)
}

package queryapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signindiag/signindiag/access"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// maxComment bounds a feedback or acknowledgement comment (characters).
const maxComment = 2000

// maxBody bounds a request body.
const maxBody = 16 << 10

// Metrics of the API.
type Metrics struct {
	feedback *prometheus.CounterVec
}

// NewMetrics registers the API's metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{feedback: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signindiag_feedback_total",
		Help: "Feedback given on findings through POST /v1/feedback, by scenario and verdict.",
	}, []string{"scenario", "helpful"})}
	if reg != nil {
		reg.MustRegister(m.feedback)
	}
	return m
}

// FeedbackRequest is the body of POST /v1/feedback.
type FeedbackRequest struct {
	FindingID string `json:"findingId"`
	// SignInID locates the finding through the sign-in's key index: one
	// of the finding's sign-ins (its signInId, or a member of an
	// incident).
	SignInID string `json:"signInId"`
	Helpful  *bool  `json:"helpful"`
	Comment  string `json:"comment"`
}

// FeedbackList is the answer of GET /v1/feedback.
type FeedbackList struct {
	Feedback []sinks.Feedback `json:"feedback"`
	Next     string           `json:"next,omitempty"`
}

// addFeedback stores a verdict on a finding that exists (404 otherwise).
func (a *API) addFeedback(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	var req FeedbackRequest
	if !readBody(w, r, &req, false) {
		return
	}
	switch {
	case req.FindingID == "":
		badRequest(w, "findingId", "give the id of the finding (diagnosticResults[].id)")
		return
	case req.SignInID == "":
		badRequest(w, "signInId", "give the signInId of the finding")
		return
	case req.Helpful == nil:
		badRequest(w, "helpful", "give helpful: true or false")
		return
	}
	for name, v := range map[string]string{"findingId": req.FindingID, "signInId": req.SignInID} {
		p := &params{}
		if p.check(name, v); p.err != nil {
			writeJSON(w, http.StatusBadRequest, p.err)
			return
		}
	}
	if !validComment(w, req.Comment) {
		return
	}
	si, err := a.lookupSignIn(r, req.SignInID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f, err := a.findingOf(r, si, req.FindingID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fb := sinks.Feedback{ID: newID(), FindingID: f.ID, SignInID: si.ID, Scenario: f.Scenario, Helpful: *req.Helpful,
		Comment: req.Comment, GivenBy: access.PrincipalOf(r).Label, GivenAt: a.cfg.Now().UTC().Truncate(time.Millisecond)}
	if err := a.reader.AddFeedback(r.Context(), fb); err != nil {
		a.fail(w, r, err)
		return
	}
	a.cfg.Metrics.feedback.WithLabelValues(f.Scenario, fmt.Sprint(fb.Helpful)).Inc()
	writeJSON(w, http.StatusCreated, fb)
}

// findingOf returns the finding id among si's findings and the incidents
// it is a member of.
func (a *API) findingOf(r *http.Request, si *schemas.SignIn, id string) (*schemas.Finding, error) {
	signIns := []schemas.SignIn{*si}
	findings, err := a.reader.Findings(r.Context(), signIns)
	if err != nil {
		return nil, err
	}
	incidents, _, err := a.incidentResults(r.Context(), signIns)
	if err != nil {
		return nil, err
	}
	for _, f := range append(findings, incidents...) {
		if f.ID == id {
			return &f, nil
		}
	}
	return nil, fmt.Errorf("%w: the sign-in %q has no finding %q", sinks.ErrNotFound, si.ID, id)
}

// listFeedback: ?findingId, ?limit, ?cursor; the latest first.
func (a *API) listFeedback(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "findingId", "limit", "cursor")
	q := sinks.FeedbackQuery{FindingID: p.str("findingId"), Limit: p.limit(listPage, listPage)}
	if c, ok := p.cursor("cursor"); ok {
		q.Before, q.BeforeID = c.at, c.id
	}
	if !p.ok(w) {
		return
	}
	q.Limit++
	got, err := a.reader.ListFeedback(r.Context(), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := FeedbackList{Feedback: []sinks.Feedback{}}
	if len(got) == q.Limit {
		got = got[:q.Limit-1]
		last := got[len(got)-1]
		out.Next = flaggedCursor{at: last.GivenAt, id: last.ID}.String()
	}
	out.Feedback = append(out.Feedback, got...)
	writeJSON(w, http.StatusOK, out)
}

// readBody decodes a JSON body into v, rejecting unknown fields; an empty
// body is allowed when optional.
func readBody(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		badRequest(w, "body", fmt.Sprintf("the body could not be read (at most %d bytes): %v", maxBody, err))
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return true
		}
		badRequest(w, "body", "expected a JSON object")
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		param := "body"
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			param = strings.Trim(f, `"`)
			msg = fmt.Sprintf("unknown field %s", f)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			param = te.Field
			msg = fmt.Sprintf("%s: expected a %s", te.Field, te.Type)
		}
		badRequest(w, param, "expected a JSON object: "+msg)
		return false
	}
	if dec.More() {
		badRequest(w, "body", "expected one JSON object")
		return false
	}
	return true
}

func validComment(w http.ResponseWriter, c string) bool {
	if !utf8.ValidString(c) || utf8.RuneCountInString(c) > maxComment {
		badRequest(w, "comment", fmt.Sprintf("expected UTF-8 text of at most %d characters", maxComment))
		return false
	}
	return true
}

// noQuery rejects query parameters on endpoints that take none.
func noQuery(w http.ResponseWriter, r *http.Request) bool {
	p := newParams(r)
	return p.ok(w)
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

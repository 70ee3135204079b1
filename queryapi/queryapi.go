// Package queryapi serves the diagnostic over HTTP: the sign-ins matching
// a search (the portal's "authentication summary") and their findings
// ("diagnostic results"), the incidents of the windowed detections (on
// every member sign-in, and listed by /v1/incidents), and exact per-user
// failure counts. It reads
// through sinks.Reader only; no storage detail leaks in here.
package queryapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// Config of the API.
type Config struct {
	// Window is the failure-count window (48h).
	Window time.Duration
	// SearchSpan is how far around `at` a user search looks: the Entra
	// diagnostic finds events "within 48 hours" of the time given.
	SearchSpan time.Duration
	// SprayWindow and MFAFatigueWindow are no longer read: the windowed
	// detections are Detections.
	SprayWindow      time.Duration
	MFAFatigueWindow time.Duration
	// Detections are the windowed detections (nil: rules.Detections(nil),
	// the defaults); their incidents are shown on every member sign-in.
	Detections []rules.Detection
	// IsFailure is the catalogue's verdict on an error code, which decides
	// membership in excessive_failures_48h (nil: the default catalogue).
	IsFailure func(code int) bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxRange bounds the from–to range of the list endpoints (0: 31
	// days); DefaultRange is the range when neither is given (0: Window).
	MaxRange     time.Duration
	DefaultRange time.Duration
	// Metrics counts feedback; nil: counted nowhere.
	Metrics *Metrics
}

// Store is what the API reads and writes.
type Store interface {
	sinks.Reader
	sinks.Lister
	sinks.Annotations
}

// API is the HTTP handler set.
type API struct {
	cfg    Config
	reader Store
	log    *slog.Logger
}

// New returns the API over reader.
func New(cfg Config, reader Store, log *slog.Logger) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SearchSpan == 0 {
		cfg.SearchSpan = cfg.Window
	}
	if cfg.Detections == nil {
		cfg.Detections = rules.Detections(nil)
	}
	if cfg.IsFailure == nil {
		cfg.IsFailure = catalog.Default().IsFailure
	}
	if cfg.MaxRange == 0 {
		cfg.MaxRange = 31 * 24 * time.Hour
	}
	if cfg.DefaultRange == 0 {
		cfg.DefaultRange = cfg.Window
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &API{cfg: cfg, reader: reader, log: log}
}

// Mux is where routes are registered (*http.ServeMux is one).
type Mux interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Register adds the API's routes to mux. Every route is in openapi.json
// (a test holds them equal); admin routes are listed in adminRoutes.
func (a *API) Register(mux Mux) {
	mux.HandleFunc("GET /v1/openapi.json", serveOpenAPI)
	mux.HandleFunc("GET /v1/diagnose", a.diagnose)
	mux.HandleFunc("GET /v1/signins", a.listSignIns)
	mux.HandleFunc("GET /v1/signins/{id}", a.signIn)
	mux.HandleFunc("GET /v1/findings", a.listFindings)
	mux.HandleFunc("GET /v1/users/{user}/failures", a.failures)
	mux.HandleFunc("GET /v1/flagged", a.flagged)
	mux.HandleFunc("POST /v1/flagged/{id}/acknowledge", a.acknowledge)
	mux.HandleFunc("POST /v1/feedback", a.addFeedback)
	mux.HandleFunc("GET /v1/feedback", a.listFeedback)
	mux.HandleFunc("GET /v1/incidents", a.incidents)
}

// Diagnosis is the answer of /v1/diagnose.
type Diagnosis struct {
	AuthenticationSummary []schemas.SignIn  `json:"authenticationSummary"`
	DiagnosticResults     []schemas.Finding `json:"diagnosticResults"`
	// Next, when set, is the `cursor` of the next page of sign-ins.
	Next string `json:"next,omitempty"`
}

// FailureCount is the answer of /v1/users/{user}/failures.
type FailureCount struct {
	User        string    `json:"user"`
	Failures48h int       `json:"failures48h"`
	WindowStart time.Time `json:"windowStart"`
	WindowEnd   time.Time `json:"windowEnd"`
}

// Error is every 4xx/5xx body.
type Error struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
}

// searchLimit matches the portal, which lists at most 100 events.
const searchLimit = 100

func (a *API) diagnose(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "correlationId", "requestId", "signInId", "user", "app", "at", "limit", "cursor")
	var sq sinks.SignInQuery
	signInID, requestID := p.str("signInId"), p.str("requestId")
	if signInID != "" && requestID != "" && signInID != requestID {
		p.fail("signInId", "signInId and requestId name the same id; give one of them")
	}
	sq.CorrelationID = p.str("correlationId")
	sq.RequestID = requestID
	if sq.RequestID == "" {
		sq.RequestID = signInID
	}
	sq.User, sq.App = p.str("user"), p.str("app")
	if p.err == nil && sq.CorrelationID == "" && sq.RequestID == "" && sq.User == "" {
		param := "user"
		if sq.App != "" {
			param = "app"
		}
		p.fail(param, "give a correlationId, a requestId (or signInId), or a user (UPN or object id) with an optional app and at")
	}
	if p.err == nil && sq.App != "" && sq.User == "" {
		p.fail("app", "app narrows a user search; give a user too")
	}
	atGiven := p.instant("at")
	limit := p.limit(searchLimit, searchLimit)
	cur, paged := p.diagnoseCursor()
	if !p.ok(w) {
		return
	}
	at := atGiven
	if at.IsZero() {
		at = a.cfg.Now().UTC().Truncate(time.Millisecond)
	}
	sq.From, sq.To = at.Add(-a.cfg.SearchSpan), at.Add(a.cfg.SearchSpan)
	if atGiven.IsZero() {
		sq.To = at
	}
	byUser := sq.CorrelationID == "" && sq.RequestID == ""
	if paged && byUser && cur.at.Before(sq.To) {
		// A user search pages in time: the next page starts in the
		// cursor's second.
		sq.To = cur.at
	}
	// One more than the page tells whether a next page exists; skip is
	// what precedes the cursor in the store's order. An id names a few
	// sign-ins (one attempt), and the store applies a limit to an id
	// lookup before ordering: read them all and page here.
	sq.Limit = cur.skip + limit + 1
	if !byUser {
		sq.Limit = maxDiagnoseRows
	}
	if sq.Limit > maxDiagnoseRows {
		badRequest(w, "cursor", fmt.Sprintf("paged past %d sign-ins; narrow the search (app, at)", maxDiagnoseRows-limit-1))
		return
	}
	signIns, err := a.reader.SignIns(r.Context(), sq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if paged {
		signIns = afterCursor(signIns, cur)
	}
	var next string
	if len(signIns) > limit {
		signIns = signIns[:limit]
		next = nextDiagnoseCursor(signIns, cur, byUser).String()
	}
	findings, err := a.findingsWithEvidence(r, signIns)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if signIns == nil {
		signIns = []schemas.SignIn{}
	}
	if findings == nil {
		findings = []schemas.Finding{}
	}
	writeJSON(w, http.StatusOK, Diagnosis{AuthenticationSummary: signIns, DiagnosticResults: findings, Next: next})
}

func (a *API) failures(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	if user == "" {
		badRequest(w, "user", "give a UPN or object id")
		return
	}
	at, ok := a.parseAt(w, r.URL.Query().Get("at"))
	if !ok {
		return
	}
	from := at.Add(-a.cfg.Window)
	n, err := a.reader.FailureCount(r.Context(), user, from, at)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, FailureCount{User: user, Failures48h: n, WindowStart: from, WindowEnd: at})
}

// parseAt reads an RFC 3339 time; empty means now.
func (a *API) parseAt(w http.ResponseWriter, s string) (time.Time, bool) {
	if s == "" {
		return a.cfg.Now().UTC().Truncate(time.Millisecond), true
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		badRequest(w, "at", fmt.Sprintf("expected an RFC 3339 time such as 2025-03-04T09:12:31Z, got %q", s))
		return time.Time{}, false
	}
	return at.UTC(), true
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, sinks.ErrInvalidQuery):
		badRequest(w, "", err.Error())
		return
	case errors.Is(err, sinks.ErrNotFound):
		writeJSON(w, http.StatusNotFound, Error{Error: err.Error()})
		return
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded):
		a.log.Warn("query timed out", "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, Error{Error: "the query took too long; narrow it (a shorter range, a user or an app)"})
		return
	}
	a.log.Error("query failed", "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, Error{Error: "the store could not answer; see the server log"})
}

func badRequest(w http.ResponseWriter, param, msg string) {
	writeJSON(w, http.StatusBadRequest, Error{Error: msg, Parameter: param})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

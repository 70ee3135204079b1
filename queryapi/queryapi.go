// Package queryapi serves the diagnostic over HTTP: the sign-ins matching
// a search (the portal's "authentication summary") and their findings
// ("diagnostic results"), the incidents of the windowed detections (on
// every member sign-in, and listed by /v1/incidents), and exact per-user
// failure counts. It reads
// through sinks.Reader only; no storage detail leaks in here.
package queryapi

import (
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
	"github.com/signindiag/signindiag/spikes"
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
	// Spikes is the baseline and rule of /v1/spikes (zero: the defaults).
	Spikes spikes.Config
}

// API is the HTTP handler set.
type API struct {
	cfg    Config
	reader sinks.Reader
	log    *slog.Logger
}

// New returns the API over reader.
func New(cfg Config, reader sinks.Reader, log *slog.Logger) *API {
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
	return &API{cfg: cfg, reader: reader, log: log}
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/diagnose", a.diagnose)
	mux.HandleFunc("GET /v1/users/{user}/failures", a.failures)
	mux.HandleFunc("GET /v1/flagged", a.flagged)
	mux.HandleFunc("GET /v1/incidents", a.incidents)
	mux.HandleFunc("GET /v1/spikes", a.spikes) // spikes.go
}

// Diagnosis is the answer of /v1/diagnose.
type Diagnosis struct {
	AuthenticationSummary []schemas.SignIn  `json:"authenticationSummary"`
	DiagnosticResults     []schemas.Finding `json:"diagnosticResults"`
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
	q := r.URL.Query()
	var sq sinks.SignInQuery
	sq.Limit = searchLimit
	signInID, requestID := q.Get("signInId"), q.Get("requestId")
	if signInID != "" && requestID != "" && signInID != requestID {
		badRequest(w, "signInId", "signInId and requestId name the same id; give one of them")
		return
	}
	sq.CorrelationID = q.Get("correlationId")
	sq.RequestID = requestID
	if sq.RequestID == "" {
		sq.RequestID = signInID
	}
	sq.User, sq.App = q.Get("user"), q.Get("app")
	if sq.CorrelationID == "" && sq.RequestID == "" && sq.User == "" {
		param := "user"
		if sq.App != "" {
			param = "app"
		}
		badRequest(w, param, "give a correlationId, a requestId (or signInId), or a user (UPN or object id) with an optional app and at")
		return
	}
	if sq.App != "" && sq.User == "" {
		badRequest(w, "app", "app narrows a user search; give a user too")
		return
	}
	at, ok := a.parseAt(w, q.Get("at"))
	if !ok {
		return
	}
	sq.From, sq.To = at.Add(-a.cfg.SearchSpan), at.Add(a.cfg.SearchSpan)
	if q.Get("at") == "" {
		sq.To = at
	}
	signIns, err := a.reader.SignIns(r.Context(), sq)
	if err != nil {
		a.fail(w, r, err)
		return
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
	writeJSON(w, http.StatusOK, Diagnosis{AuthenticationSummary: signIns, DiagnosticResults: findings})
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
	if errors.Is(err, sinks.ErrInvalidQuery) {
		badRequest(w, "", err.Error())
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

package queryapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// fakeReader records the queries it is asked.
type fakeReader struct {
	// mu guards what the API may call at once (incidents, evidence).
	mu       sync.Mutex
	queries  []sinks.SignInQuery
	counted  [][2]time.Time
	signIns  []schemas.SignIn
	findings []schemas.Finding
	failures int

	flagged        []sinks.FlaggedSignIn
	flaggedQueries []sinks.FlaggedQuery
	evidence       []sinks.EvidenceQuery

	incidents       []sinks.IncidentRecord
	incidentQueries []sinks.IncidentQuery

	// byID: id lookups return only the sign-ins with that id.
	byID bool

	listed        []sinks.SignInListQuery
	findingLists  []sinks.FindingListQuery
	feedback      []sinks.Feedback
	feedbackLists []sinks.FeedbackQuery
	acks          []sinks.Acknowledgement
}

// ListSignIns returns the sign-ins given, as many as asked.
func (f *fakeReader) ListSignIns(_ context.Context, q sinks.SignInListQuery) ([]schemas.SignIn, error) {
	f.listed = append(f.listed, q)
	return f.signIns[:min(len(f.signIns), q.Limit)], nil
}

func (f *fakeReader) ListFindings(_ context.Context, q sinks.FindingListQuery) ([]schemas.Finding, error) {
	f.findingLists = append(f.findingLists, q)
	return f.findings[:min(len(f.findings), q.Limit)], nil
}

func (f *fakeReader) AddFeedback(_ context.Context, fb sinks.Feedback) error {
	f.feedback = append(f.feedback, fb)
	return nil
}

func (f *fakeReader) ListFeedback(_ context.Context, q sinks.FeedbackQuery) ([]sinks.Feedback, error) {
	f.feedbackLists = append(f.feedbackLists, q)
	return f.feedback[:min(len(f.feedback), q.Limit)], nil
}

func (f *fakeReader) Acknowledge(_ context.Context, a sinks.Acknowledgement) error {
	f.acks = append(f.acks, a)
	return nil
}

func (f *fakeReader) Acknowledgements(_ context.Context, ids []string) (map[string]sinks.Acknowledgement, error) {
	out := map[string]sinks.Acknowledgement{}
	for _, a := range f.acks {
		if slices.Contains(ids, a.SignInID) {
			out[a.SignInID] = a
		}
	}
	return out, nil
}

// Incidents filters like the store: detection, keys, span overlap.
func (f *fakeReader) Incidents(_ context.Context, q sinks.IncidentQuery) ([]sinks.IncidentRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.incidentQueries = append(f.incidentQueries, q)
	var out []sinks.IncidentRecord
	for _, in := range f.incidents {
		if q.Detection != "" && in.Detection != q.Detection || len(q.Keys) > 0 && !slices.Contains(q.Keys, in.Key) ||
			!q.To.IsZero() && in.First.After(q.To) || !q.From.IsZero() && in.Last.Before(q.From) {
			continue
		}
		out = append(out, in)
	}
	return out, nil
}

func (f *fakeReader) SignIns(_ context.Context, q sinks.SignInQuery) ([]schemas.SignIn, error) {
	f.queries = append(f.queries, q)
	if f.byID && q.RequestID != "" {
		var out []schemas.SignIn
		for _, si := range f.signIns {
			if si.ID == q.RequestID {
				out = append(out, si)
			}
		}
		return out, nil
	}
	return f.signIns, nil
}

func (f *fakeReader) Findings(context.Context, []schemas.SignIn) ([]schemas.Finding, error) {
	return f.findings, nil
}

func (f *fakeReader) Flagged(_ context.Context, q sinks.FlaggedQuery) ([]sinks.FlaggedSignIn, error) {
	f.flaggedQueries = append(f.flaggedQueries, q)
	return f.flagged, nil
}

func (f *fakeReader) Evidence(_ context.Context, q sinks.EvidenceQuery) (*schemas.Evidence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.evidence = append(f.evidence, q)
	return &schemas.Evidence{Failures: 3, WindowStart: q.From, WindowEnd: q.To}, nil
}

func (f *fakeReader) FailureCount(_ context.Context, _ string, from, to time.Time) (int, error) {
	f.counted = append(f.counted, [2]time.Time{from, to})
	return f.failures, nil
}

var now = time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC)

func serve(t *testing.T, r Store, target string) (int, map[string]any) {
	t.Helper()
	mux := http.NewServeMux()
	New(Config{Window: 48 * time.Hour, Now: func() time.Time { return now }}, r, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: body is not JSON: %q", target, rec.Body.String())
	}
	return rec.Code, body
}

func TestDiagnoseRejectsMissingOrMalformedCriteria(t *testing.T) {
	cases := []struct{ target, param string }{
		{"/v1/diagnose", "user"},
		{"/v1/diagnose?app=Teams", "app"},
		{"/v1/diagnose?user=a@b.c&at=yesterday", "at"},
		{"/v1/diagnose?signInId=a&requestId=b", "signInId"},
	}
	for _, c := range cases {
		r := &fakeReader{}
		code, body := serve(t, r, c.target)
		if code != http.StatusBadRequest || body["parameter"] != c.param || body["error"] == "" {
			t.Errorf("%s: %d %v, want 400 naming %s", c.target, code, body, c.param)
		}
		if len(r.queries) != 0 {
			t.Errorf("%s: the store was queried", c.target)
		}
	}
}

func TestDiagnoseSearchesAroundAt(t *testing.T) {
	r := &fakeReader{
		signIns:  []schemas.SignIn{{ID: "s1", UserID: "u"}},
		findings: []schemas.Finding{{ID: "f1", SignInID: "s1", Scenario: "invalid_credentials"}},
	}
	code, body := serve(t, r, "/v1/diagnose?user=Ana@contoso.example&app=Teams&at=2025-03-04T09:00:00%2B01:00")
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	q := r.queries[0]
	at := time.Date(2025, 3, 4, 8, 0, 0, 0, time.UTC)
	// A page of 100, and one more to tell whether a next page exists.
	if q.User != "Ana@contoso.example" || q.App != "Teams" || !q.From.Equal(at.Add(-48*time.Hour)) || !q.To.Equal(at.Add(48*time.Hour)) || q.Limit != 101 {
		t.Errorf("query = %+v", q)
	}
	if len(body["authenticationSummary"].([]any)) != 1 || len(body["diagnosticResults"].([]any)) != 1 {
		t.Errorf("body = %v", body)
	}
}

func TestDiagnoseByIDsAndEmptyResults(t *testing.T) {
	r := &fakeReader{}
	code, body := serve(t, r, "/v1/diagnose?correlationId=c1")
	if code != http.StatusOK || r.queries[0].CorrelationID != "c1" {
		t.Fatalf("%d %v %+v", code, body, r.queries)
	}
	if s, ok := body["authenticationSummary"].([]any); !ok || len(s) != 0 {
		t.Errorf("empty result should be an empty list, got %v", body["authenticationSummary"])
	}
	serve(t, r, "/v1/diagnose?signInId=s1")
	serve(t, r, "/v1/diagnose?requestId=s2")
	if r.queries[1].RequestID != "s1" || r.queries[2].RequestID != "s2" {
		t.Errorf("signInId/requestId not passed: %+v", r.queries)
	}
}

func TestFailuresCountsTheWindowEndingAtAt(t *testing.T) {
	r := &fakeReader{failures: 7}
	code, body := serve(t, r, "/v1/users/ana@contoso.example/failures?at=2025-03-04T10:00:00Z")
	if code != http.StatusOK || body["failures48h"] != float64(7) || body["user"] != "ana@contoso.example" {
		t.Fatalf("%d %v", code, body)
	}
	if body["windowStart"] != "2025-03-02T10:00:00Z" || body["windowEnd"] != "2025-03-04T10:00:00Z" {
		t.Errorf("window = %v..%v", body["windowStart"], body["windowEnd"])
	}
	code, body = serve(t, r, "/v1/users/u/failures?at=notatime")
	if code != http.StatusBadRequest || body["parameter"] != "at" {
		t.Errorf("bad at: %d %v", code, body)
	}
	_, body = serve(t, r, "/v1/users/u/failures")
	if body["windowEnd"] != "2025-03-05T12:00:00Z" {
		t.Errorf("default at should be now: %v", body)
	}
}

func TestFlaggedPagesAndAttachesDiagnostics(t *testing.T) {
	flaggedAt := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	r := &fakeReader{
		flagged:  []sinks.FlaggedSignIn{{SignIn: schemas.SignIn{ID: "s1", FlaggedForReview: true}, FlaggedAt: flaggedAt, FlaggedBy: "user", FlagID: "flag-1"}},
		findings: []schemas.Finding{{ID: "f1", SignInID: "s1", Scenario: "blocked_by_conditional_access"}},
	}
	code, body := serve(t, r, "/v1/flagged?limit=1&before=2025-03-05T00:00:00Z")
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, body)
	}
	q := r.flaggedQueries[0]
	if q.Limit != 1 || !q.Before.Equal(time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("query = %+v", q)
	}
	items := body["flagged"].([]any)
	item := items[0].(map[string]any)
	if len(items) != 1 || item["flaggedBy"] != "user" || len(item["diagnosticResults"].([]any)) != 1 {
		t.Errorf("body = %v", body)
	}
	next, _ := body["next"].(string)
	if c, err := parseFlaggedCursor(next); err != nil || !c.at.Equal(flaggedAt) || c.id != "flag-1" {
		t.Errorf("a full page should name the next cursor: %q → %+v %v", next, c, err)
	}
	// The cursor comes back as the next page's before.
	serve(t, r, "/v1/flagged?limit=1&before="+next)
	if q := r.flaggedQueries[len(r.flaggedQueries)-1]; !q.Before.Equal(flaggedAt) || q.BeforeID != "flag-1" {
		t.Errorf("query from the cursor = %+v", q)
	}
	_, body = serve(t, r, "/v1/flagged")
	if q := r.flaggedQueries[len(r.flaggedQueries)-1]; q.Limit != 100 || body["next"] != nil {
		t.Errorf("default page: %+v, next %v", q, body["next"])
	}
	for _, bad := range []struct{ target, param string }{
		{"/v1/flagged?limit=101", "limit"}, {"/v1/flagged?limit=x", "limit"}, {"/v1/flagged?before=yesterday", "before"}, {"/v1/flagged?before=c1.%25%25", "before"},
	} {
		code, body := serve(t, r, bad.target)
		if code != http.StatusBadRequest || body["parameter"] != bad.param {
			t.Errorf("%s: %d %v", bad.target, code, body)
		}
	}
}

func TestWindowedFindingsCarryEvidence(t *testing.T) {
	at := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	r := &fakeReader{
		signIns: []schemas.SignIn{{ID: "s1", UserID: "u", IPAddress: "198.51.100.7"}},
		findings: []schemas.Finding{
			{ID: "f1", SignInID: "s1", Scenario: "excessive_failures_48h", UserKey: "u", OccurredAt: at},
			{ID: "f2", SignInID: "s1", Scenario: "blocked_by_conditional_access", UserKey: "u", OccurredAt: at},
			{ID: "f3", SignInID: "s1", Scenario: "password_spray", UserKey: "u", OccurredAt: at}, // stored by an older version
		},
	}
	_, body := serve(t, r, "/v1/diagnose?requestId=s1")
	results := body["diagnosticResults"].([]any)
	if results[0].(map[string]any)["evidence"] == nil || results[1].(map[string]any)["evidence"] != nil {
		t.Errorf("evidence on the windowed finding only: %v", results)
	}
	// The queries run at once: compare them in a fixed order.
	sort.Slice(r.evidence, func(i, j int) bool { return r.evidence[i].UserKey > r.evidence[j].UserKey })
	if len(r.evidence) != 2 || r.evidence[0].UserKey != "u" || !r.evidence[0].From.Equal(at.Add(-48*time.Hour)) ||
		r.evidence[1].IP != "198.51.100.7" || !r.evidence[1].From.Equal(at.Add(-20*time.Minute)) {
		t.Errorf("evidence queries = %+v", r.evidence)
	}
}

func TestFlaggedCursorRoundTrips(t *testing.T) {
	at := time.Date(2025, 3, 4, 10, 0, 0, 123456789, time.UTC)
	for _, c := range []flaggedCursor{{at: at, id: "f:1|x"}, {at: at}} {
		got, err := parseFlaggedCursor(c.String())
		if err != nil || !got.at.Equal(c.at) || got.id != c.id {
			t.Errorf("%+v → %q → %+v %v", c, c.String(), got, err)
		}
	}
	if got, err := parseFlaggedCursor("2025-03-04T10:00:00Z"); err != nil || !got.at.Equal(time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)) || got.id != "" {
		t.Errorf("RFC 3339 before: %+v %v", got, err)
	}
	for _, bad := range []string{"c1.!!", "c1." + "bm90LWEtbnVtYmVy", "yesterday"} {
		if _, err := parseFlaggedCursor(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

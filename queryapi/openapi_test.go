package queryapi_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/access"
	"github.com/signindiag/signindiag/queryapi"
	"github.com/signindiag/signindiag/queryapi/openapitest"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

type recordingMux struct{ patterns []string }

func (m *recordingMux) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
}

// TestOpenAPIDescribesEveryRoute: every route served is in openapi.json
// with the role it needs, and every path there is served.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	v := openapitest.New(t)
	var m recordingMux
	queryapi.New(queryapi.Config{Window: 48 * time.Hour}, queryapi.NewFakeStore(nil, nil, nil), slog.New(slog.DiscardHandler)).Register(&m)
	var documented []string
	for path, item := range v.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			pattern := method + " " + path
			documented = append(documented, pattern)
			role, _ := op.Extensions["x-role"].(string)
			want := queryapi.RequiredRole(pattern)
			if want == access.None && role != "" || want != access.None && role != want.String() {
				t.Errorf("%s: openapi.json says x-role %q, the server needs %s", pattern, role, want)
			}
			if want == access.None && (op.Security == nil || len(*op.Security) != 0) {
				t.Errorf("%s: open route without an empty security list", pattern)
			}
		}
	}
	sort.Strings(documented)
	served := slices.Clone(m.patterns)
	sort.Strings(served)
	if !slices.Equal(served, documented) {
		t.Errorf("routes served:\n  %s\nroutes in openapi.json:\n  %s", strings.Join(served, "\n  "), strings.Join(documented, "\n  "))
	}
}

const (
	readerToken = "reader-token-0123456789"
	adminToken  = "admin-token-0123456789ab"
)

// TestResponsesMatchOpenAPI sends each route good and bad requests through
// the same chain as the binary (tokens, admission) and validates every
// answer against the document: status listed, body of its schema.
func TestResponsesMatchOpenAPI(t *testing.T) {
	v := openapitest.New(t)
	at := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	flagged := schemas.SignIn{ID: "s-1", CreatedDateTime: at, UserPrincipalName: "ana@contoso.example", CorrelationID: "c-1",
		AppDisplayName: "Azure Portal", Status: schemas.Status{ErrorCode: 53003}, FlaggedForReview: true}
	plain := schemas.SignIn{ID: "s-2", CreatedDateTime: at.Add(-time.Minute), UserPrincipalName: "ana@contoso.example", CorrelationID: "c-2"}
	finding := schemas.Finding{ID: "f-1", SignInID: "s-1", CorrelationID: "c-1", OccurredAt: at, Scenario: "blocked_by_conditional_access",
		Severity: "medium", Title: "Blocked by Conditional Access", Summary: "…", Recommendations: []string{"Review the policy"}, ErrorCode: 53003,
		Failures48h: 1, Flagged: true, Policies: []schemas.PolicySummary{{DisplayName: "Block outside FR", Result: "failure"}}}
	store := queryapi.NewFakeStore([]schemas.SignIn{flagged, plain}, []schemas.Finding{finding},
		[]sinks.FlaggedSignIn{{SignIn: flagged, FlaggedAt: at.Add(time.Hour), FlaggedBy: "ana", FlagID: "flag-1"}})
	mux := http.NewServeMux()
	queryapi.New(queryapi.Config{Window: 48 * time.Hour, Now: func() time.Time { return at.Add(2 * time.Hour) }}, store,
		slog.New(slog.DiscardHandler)).Register(mux)
	keys, err := access.ParseKeys("reader:" + readerToken + ",admin:" + adminToken)
	if err != nil {
		t.Fatal(err)
	}
	policy := func(r *http.Request) access.Role { _, p := mux.Handler(r); return queryapi.RequiredRole(p) }
	srv := httptest.NewServer(access.Middleware(keys, policy, queryapi.Admission{MaxConcurrent: 4, Timeout: 5 * time.Second}.Wrap(mux)))
	defer srv.Close()
	client := &http.Client{Transport: v.Transport(t, nil)}

	cases := []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/v1/openapi.json", "", "", 200},
		{"GET", "/v1/diagnose?correlationId=c-1", readerToken, "", 200},
		{"GET", "/v1/diagnose?user=ana@contoso.example&limit=1", readerToken, "", 200},
		{"GET", "/v1/diagnose?user=ana@contoso.example&limit=0", readerToken, "", 400},
		{"GET", "/v1/diagnose?cursor=nonsense&user=a", readerToken, "", 400},
		{"GET", "/v1/diagnose?correlationId=c-1&unknown=1", readerToken, "", 400},
		{"GET", "/v1/diagnose?correlationId=c-1", "", "", 401},
		{"GET", "/v1/signins?user=ana@contoso.example&errorCode=53003", readerToken, "", 200},
		{"GET", "/v1/signins?limit=1", readerToken, "", 200},
		{"GET", "/v1/signins?from=2025-03-01T00:00:00Z&to=2025-05-01T00:00:00Z", readerToken, "", 400},
		{"GET", "/v1/signins?from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z", readerToken, "", 400},
		{"GET", "/v1/signins?errorCode=abc", readerToken, "", 400},
		{"GET", "/v1/signins/s-1", readerToken, "", 200},
		{"GET", "/v1/signins/nope", readerToken, "", 404},
		{"GET", "/v1/findings?scenario=blocked_by_conditional_access&severity=medium&flagged=true", readerToken, "", 200},
		{"GET", "/v1/findings?severity=urgent", readerToken, "", 400},
		{"GET", "/v1/findings?flagged=maybe", readerToken, "", 400},
		{"GET", "/v1/users/ana@contoso.example/failures", readerToken, "", 200},
		{"GET", "/v1/flagged", readerToken, "", 200},
		{"GET", "/v1/flagged?limit=500", readerToken, "", 400},
		{"POST", "/v1/flagged/s-1/acknowledge", readerToken, `{}`, 403},
		{"POST", "/v1/flagged/s-1/acknowledge", adminToken, `{"comment":"called the user"}`, 200},
		{"POST", "/v1/flagged/s-1/acknowledge", adminToken, ``, 200},
		{"POST", "/v1/flagged/s-2/acknowledge", adminToken, `{}`, 409},
		{"POST", "/v1/flagged/nope/acknowledge", adminToken, `{}`, 404},
		{"POST", "/v1/flagged/s-1/acknowledge", adminToken, `{"note":"x"}`, 400},
		{"GET", "/v1/flagged", readerToken, "", 200}, // now with the acknowledgement
		{"POST", "/v1/feedback", readerToken, `{"findingId":"f-1","signInId":"s-1","helpful":true,"comment":"spot on"}`, 201},
		{"POST", "/v1/feedback", readerToken, `{"findingId":"f-9","signInId":"s-1","helpful":true}`, 404},
		{"POST", "/v1/feedback", readerToken, `{"findingId":"f-1","signInId":"nope","helpful":false}`, 404},
		{"POST", "/v1/feedback", readerToken, `{"findingId":"f-1","signInId":"s-1"}`, 400},
		{"POST", "/v1/feedback", readerToken, `{"findingId":"f-1","signInId":"s-1","helpful":"yes"}`, 400},
		{"POST", "/v1/feedback", readerToken, `{"findingId":"f-1","signInId":"s-1","helpful":true,"comment":"` + strings.Repeat("x", 2001) + `"}`, 400},
		{"POST", "/v1/feedback", "", `{"findingId":"f-1","signInId":"s-1","helpful":true}`, 401},
		{"GET", "/v1/feedback", readerToken, "", 403},
		{"GET", "/v1/feedback?findingId=f-1", adminToken, "", 200},
		{"GET", "/v1/feedback?limit=x", adminToken, "", 400},
		{"GET", "/v1/incidents", readerToken, "", 200},
		{"GET", "/v1/incidents?detection=nope", readerToken, "", 400},
	}
	for _, c := range cases {
		var body io.Reader
		if c.body != "" {
			body = bytes.NewBufferString(c.body)
		}
		req, err := http.NewRequest(c.method, srv.URL+c.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, got, c.want)
		}
	}
}

package queryapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/signindiag/signindiag/access"
	"github.com/signindiag/signindiag/queryapi"
	"github.com/signindiag/signindiag/queryapi/openapitest"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// apiOverStore serves the API over a fresh database of the real
// ClickHouse, with every response validated against openapi.json.
type apiOverStore struct {
	t      *testing.T
	store  *clickhouse.Store
	url    string
	client *http.Client
}

func newAPIOverStore(t *testing.T, now time.Time) *apiOverStore {
	t.Helper()
	cfg := clickhousetest.Config(t)
	ctx := context.Background()
	store, err := clickhouse.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	queryapi.New(queryapi.Config{Window: 48 * time.Hour, Now: func() time.Time { return now }}, store, slog.New(slog.DiscardHandler)).Register(mux)
	keys, _ := access.ParseKeys("reader:" + readerToken + ",admin:" + adminToken)
	policy := func(r *http.Request) access.Role { _, p := mux.Handler(r); return queryapi.RequiredRole(p) }
	srv := httptest.NewServer(access.Middleware(keys, policy, queryapi.Admission{MaxConcurrent: 4, Timeout: 20 * time.Second}.Wrap(mux)))
	t.Cleanup(srv.Close)
	return &apiOverStore{t: t, store: store, url: srv.URL, client: &http.Client{Transport: openapitest.New(t).Transport(t, nil)}}
}

func (a *apiOverStore) do(method, path, token string, body any, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s: %v (%s)", path, err, data)
		}
	}
	return resp.StatusCode
}

// TestDiagnosePagesThroughTheRealStore: a user with sign-ins sharing
// seconds, and an attempt whose sign-ins share a correlation id, paged two
// at a time: every sign-in once, in the store's order.
func TestDiagnosePagesThroughTheRealStore(t *testing.T) {
	at := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	a := newAPIOverStore(t, at.Add(time.Hour))
	var recs []sinks.SignInRecord
	var want []string
	// Seven sign-ins: three in one second, two in another, two alone.
	offsets := []time.Duration{0, 0, 0, 5 * time.Second, 5 * time.Second, 9 * time.Second, 20 * time.Second}
	for i, d := range offsets {
		si := schemas.SignIn{ID: fmt.Sprintf("S-%d", i), CreatedDateTime: at.Add(d + time.Duration(i)*time.Millisecond),
			UserID: "user-a", UserPrincipalName: "ana@contoso.example", AppDisplayName: "Azure Portal",
			CorrelationID: "corr-shared", Category: schemas.CategoryInteractive, Status: schemas.Status{ErrorCode: 50126}}
		recs = append(recs, sinks.SignInRecord{SignIn: si, IsFailure: true, Offset: int64(i)})
	}
	// Store order: newest second first, then id.
	want = []string{"S-6", "S-5", "S-3", "S-4", "S-0", "S-1", "S-2"}
	if err := a.store.Write(context.Background(), &sinks.Batch{SignIns: recs}); err != nil {
		t.Fatal(err)
	}
	for _, search := range []string{"user=ana@contoso.example&at=" + url.QueryEscape(at.Format(time.RFC3339)), "correlationId=corr-shared"} {
		var got []string
		cursor := ""
		for page := 0; page < 10; page++ {
			var d queryapi.Diagnosis
			path := "/v1/diagnose?limit=2&" + search
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			if code := a.do("GET", path, readerToken, nil, &d); code != http.StatusOK {
				t.Fatalf("%s: %d", path, code)
			}
			for _, si := range d.AuthenticationSummary {
				got = append(got, si.ID)
			}
			if cursor = d.Next; cursor == "" {
				break
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s paged: %v, want %v", search, got, want)
		}
	}
}

// TestListsFeedbackAndAcknowledgementOverTheRealStore runs the new
// endpoints end to end on ClickHouse.
func TestListsFeedbackAndAcknowledgementOverTheRealStore(t *testing.T) {
	at := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	a := newAPIOverStore(t, at.Add(time.Hour))
	si := schemas.SignIn{ID: "S-1", CreatedDateTime: at, UserID: "user-a", UserPrincipalName: "ana@contoso.example",
		AppDisplayName: "Azure Portal", CorrelationID: "corr-1", Category: schemas.CategoryInteractive,
		Status: schemas.Status{ErrorCode: 50126}}
	f := schemas.Finding{ID: schemas.FindingID("invalid_credentials", si.ID), SignInID: si.ID, CorrelationID: si.CorrelationID,
		UserID: si.UserID, OccurredAt: at, Scenario: "invalid_credentials", Severity: "low", Title: "Invalid username or password",
		Summary: "…", Recommendations: []string{"Reset the password"}, ErrorCode: 50126, Failures48h: 1, UserKey: si.UserKey()}
	flag := schemas.Flag{ID: "flag-1", SignInID: "s-1", UserID: "user-a", FlaggedAt: at.Add(time.Minute), FlaggedBy: "ana"}
	if err := a.store.Write(context.Background(), &sinks.Batch{SignIns: []sinks.SignInRecord{{SignIn: si, IsFailure: true}},
		Findings: []schemas.Finding{f}, Flags: []schemas.Flag{flag}}); err != nil {
		t.Fatal(err)
	}
	var list queryapi.SignInList
	if code := a.do("GET", "/v1/signins?user=ana@contoso.example&errorCode=50126", readerToken, nil, &list); code != 200 || len(list.SignIns) != 1 || !list.SignIns[0].FlaggedForReview {
		t.Fatalf("/v1/signins: %d %+v", code, list)
	}
	var detail queryapi.SignInDetail
	if code := a.do("GET", "/v1/signins/S-1", readerToken, nil, &detail); code != 200 || len(detail.DiagnosticResults) != 1 {
		t.Fatalf("/v1/signins/S-1: %d %+v", code, detail)
	}
	if code := a.do("GET", "/v1/signins/S-404", readerToken, nil, nil); code != 404 {
		t.Fatalf("unknown id: %d", code)
	}
	var findings queryapi.FindingList
	if code := a.do("GET", "/v1/findings?flagged=true&scenario=invalid_credentials", readerToken, nil, &findings); code != 200 || len(findings.Findings) != 1 || !findings.Findings[0].Flagged {
		t.Fatalf("/v1/findings: %d %+v", code, findings)
	}
	var fb sinks.Feedback
	if code := a.do("POST", "/v1/feedback", readerToken, map[string]any{"findingId": f.ID, "signInId": "S-1", "helpful": true, "comment": "exact"}, &fb); code != 201 {
		t.Fatalf("feedback: %d", code)
	}
	var fl queryapi.FeedbackList
	if code := a.do("GET", "/v1/feedback?findingId="+f.ID, adminToken, nil, &fl); code != 200 || len(fl.Feedback) != 1 ||
		fl.Feedback[0].ID != fb.ID || !fl.Feedback[0].Helpful || fl.Feedback[0].Comment != "exact" || fl.Feedback[0].Scenario != "invalid_credentials" {
		t.Fatalf("stored feedback: %+v", fl)
	}
	if code := a.do("POST", "/v1/flagged/S-1/acknowledge", adminToken, map[string]any{"comment": "called Ana"}, nil); code != 200 {
		t.Fatalf("acknowledge: %d", code)
	}
	var flagged queryapi.FlaggedList
	if code := a.do("GET", "/v1/flagged", readerToken, nil, &flagged); code != 200 || len(flagged.Flagged) != 1 ||
		flagged.Flagged[0].Acknowledged == nil || flagged.Flagged[0].Acknowledged.Comment != "called Ana" {
		t.Fatalf("flagged after acknowledgement: %+v", flagged)
	}
}

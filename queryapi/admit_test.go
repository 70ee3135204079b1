package queryapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signindiag/signindiag/access"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// TestAdmissionRefusesBeyondTheBound: with every slot taken, the next API
// request gets 429 at once; the page, health and metrics are not counted.
func TestAdmissionRefusesBeyondTheBound(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := Admission{MaxConcurrent: 2}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/slow" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	done := make(chan int, 2)
	for range 2 {
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/slow", nil))
			done <- rec.Code
		}()
	}
	<-entered
	<-entered
	for path, want := range map[string]int{"/v1/diagnose": 429, "/v1/openapi.json": 204, "/healthz": 204, "/": 204} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s with every slot taken: %d, want %d", path, rec.Code, want)
		}
		if want == 429 && (rec.Header().Get("Retry-After") == "" || !json.Valid(rec.Body.Bytes())) {
			t.Errorf("429 without Retry-After or JSON body: %v %q", rec.Header(), rec.Body)
		}
	}
	close(release)
	for range 2 {
		if c := <-done; c != 204 {
			t.Errorf("admitted request: %d", c)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/diagnose", nil))
	if rec.Code != 204 {
		t.Errorf("after the slots freed: %d", rec.Code)
	}
}

// blockingReader waits for its query's context to end, as a store does
// when a query outlives its deadline.
type blockingReader struct{ fakeReader }

func (b *blockingReader) SignIns(ctx context.Context, _ sinks.SignInQuery) ([]schemas.SignIn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestQueriesEndAtTheTimeout: the admission's deadline reaches the store,
// and a query cut by it is answered 503 with a JSON body.
func TestQueriesEndAtTheTimeout(t *testing.T) {
	mux := http.NewServeMux()
	New(Config{Window: 48 * time.Hour}, &blockingReader{}, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux)
	h := Admission{MaxConcurrent: 1, Timeout: 20 * time.Millisecond}.Wrap(mux)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/diagnose?correlationId=c", nil))
	var body Error
	if rec.Code != http.StatusServiceUnavailable || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error == "" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestRequiredRoles(t *testing.T) {
	for pattern, want := range map[string]access.Role{
		"GET /v1/diagnose": access.Reader, "POST /v1/feedback": access.Reader, "GET /v1/feedback": access.Admin,
		"POST /v1/flagged/{id}/acknowledge": access.Admin, "GET /v1/openapi.json": access.None,
		"GET /v1/spikes": access.Reader, // a route added later is guarded by default
		"GET /metrics":   access.None, "GET /healthz": access.None, "GET /{$}": access.None, "": access.None,
	} {
		if got := RequiredRole(pattern); got != want {
			t.Errorf("%q: %s, want %s", pattern, got, want)
		}
	}
}

package queryapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signindiag/signindiag/access"
)

// adminRoutes need the admin role; every other /v1 route needs a reader.
var adminRoutes = map[string]bool{
	"POST /v1/flagged/{id}/acknowledge": true,
	"GET /v1/feedback":                  true,
}

// openRoutes need no token: the document describes the API, not its data.
var openRoutes = map[string]bool{
	"GET /v1/openapi.json": true,
}

// RequiredRole is the role a route pattern needs: admin or reader under
// /v1/ (a route added without thought is guarded), none elsewhere (the
// page, /metrics, /healthz, /readyz).
func RequiredRole(pattern string) access.Role {
	_, path, _ := strings.Cut(pattern, " ")
	switch {
	case openRoutes[pattern] || !strings.HasPrefix(path, "/v1/"):
		return access.None
	case adminRoutes[pattern]:
		return access.Admin
	}
	return access.Reader
}

// Admission bounds the API's load: at most MaxConcurrent requests under
// /v1/ at once (429 beyond, at once, rather than queueing), each bounded
// by Timeout through its context, which every store query inherits.
type Admission struct {
	MaxConcurrent int
	Timeout       time.Duration
	// Rejected counts 429s (nil: counted nowhere).
	Rejected prometheus.Counter
}

// NewRejectedCounter registers the counter of requests refused with 429.
func NewRejectedCounter(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "signindiag_api_rejected_total",
		Help: "API requests refused with 429 because SIGNINDIAG_API_MAX_CONCURRENT were already running.",
	})
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// Wrap applies the admission to next.
func (ad Admission) Wrap(next http.Handler) http.Handler {
	slots := make(chan struct{}, max(ad.MaxConcurrent, 1))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/v1/openapi.json" {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			if ad.Rejected != nil {
				ad.Rejected.Inc()
			}
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, Error{Error: fmt.Sprintf("%d queries are running, the most this server runs at once; retry shortly", cap(slots))})
			return
		}
		defer func() { <-slots }()
		if ad.Timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), ad.Timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

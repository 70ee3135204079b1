// Package health serves /healthz (the process is up) and /readyz (every
// dependency check passes), as orchestrators probe them.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"time"
)

// Check reports a dependency's readiness; nil means ready.
type Check func(ctx context.Context) error

// Register adds /healthz and /readyz to mux.
func Register(mux *http.ServeMux, checks map[string]Check) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		names := make([]string, 0, len(checks))
		for name := range checks {
			names = append(names, name)
		}
		sort.Strings(names)
		result := map[string]string{}
		status := http.StatusOK
		for _, name := range names {
			if err := checks[name](ctx); err != nil {
				result[name] = err.Error()
				status = http.StatusServiceUnavailable
			} else {
				result[name] = "ok"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": status == http.StatusOK, "checks": result})
	})
}

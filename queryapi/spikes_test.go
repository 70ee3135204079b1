package queryapi

import (
	"net/http"
	"testing"
)

// The ClickHouse path of /v1/spikes is tested in cmd/signindiag
// (spikes_api_test.go): only cmd wires the store.
func TestSpikesWithoutCountsIsNotImplemented(t *testing.T) {
	if code, body := serve(t, &fakeReader{}, "/v1/spikes"); code != http.StatusNotImplemented || body["error"] == nil {
		t.Errorf("%d %v, want 501 with an error", code, body)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/queryapi"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
	"github.com/signindiag/signindiag/spikes/report"
)

func openSpikeStore(t *testing.T) *clickhouse.Store {
	t.Helper()
	cfg := clickhousetest.Config(t)
	s, err := clickhouse.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSpikesAgainstClickHouse: a day of a few failures per bucket, then a
// burst of 53003 from one country; /v1/spikes by error code marks that
// bucket (and only it) as a spike, in the documented shape.
func TestSpikesAgainstClickHouse(t *testing.T) {
	st := openSpikeStore(t)
	end := time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC)
	burstAt := end.Add(-30 * time.Minute)
	var b sinks.Batch
	n := 0
	add := func(at time.Time, code int, country string) {
		n++
		si := schemas.SignIn{ID: fmt.Sprintf("s-%d", n), Category: schemas.CategoryInteractive, CreatedDateTime: at,
			UserID: fmt.Sprintf("u%d", n%7), AppDisplayName: "Outlook", IPAddress: "198.51.100.9", Status: schemas.Status{ErrorCode: code}}
		si.Location.CountryOrRegion = country
		b.SignIns = append(b.SignIns, sinks.SignInRecord{SignIn: si, IsFailure: true})
	}
	for t := end.Add(-48 * time.Hour); t.Before(end); t = t.Add(5 * time.Minute) {
		add(t.Add(time.Minute), 50126, "FR") // one bad password every 5 minutes
		add(t.Add(2*time.Minute), 50126, "FR")
	}
	for i := range 40 {
		add(burstAt.Add(time.Duration(i)*time.Second), 53003, "NG")
	}
	if err := st.Write(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	queryapi.New(queryapi.Config{Window: 48 * time.Hour, Now: func() time.Time { return end }}, st, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux)
	get := func(target string) (int, []byte) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		return rec.Code, rec.Body.Bytes()
	}

	code, body := get("/v1/spikes?by=errorCode&step=5m&top=5")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var rep report.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.By != "errorCode" || rep.Step != "5m" || !rep.From.Equal(end.Add(-24*time.Hour)) || !rep.To.Equal(end) || len(rep.Series) != 2 {
		t.Fatalf("report %s %s %s %s with %d series", rep.By, rep.Step, rep.From, rep.To, len(rep.Series))
	}
	byValue := map[string]report.Series{}
	for _, s := range rep.Series {
		byValue[s.Value] = s
		if len(s.Buckets) != 288 {
			t.Errorf("%s: %d buckets, want 288", s.Value, len(s.Buckets))
		}
	}
	if s := byValue["50126"]; s.Total != 576 || spikeStarts(s) != "" {
		t.Errorf("50126: total %d, spikes at %q; want 576 and none", s.Total, spikeStarts(s))
	}
	if s := byValue["53003"]; s.Total != 40 || spikeStarts(s) != "11:30" {
		t.Errorf("53003: total %d, spikes at %q; want 40 and 11:30", s.Total, spikeStarts(s))
	}
	// The exact field names of the issue.
	var raw map[string]any
	_ = json.Unmarshal(body, &raw)
	bucket := raw["series"].([]any)[0].(map[string]any)["buckets"].([]any)[0].(map[string]any)
	var keys []string
	for k := range bucket {
		keys = append(keys, k)
	}
	if want := []string{"baseline", "count", "score", "spike", "start"}; !sameSet(keys, want) {
		t.Errorf("bucket keys %v, want %v", keys, want)
	}

	code, body = get("/v1/spikes?by=country&from=2025-03-05T11:00:00Z&to=2025-03-05T12:00:00Z")
	if err := json.Unmarshal(body, &rep); code != http.StatusOK || err != nil || rep.Step != "5m" || len(rep.Series) != 2 || rep.Series[0].Value != "NG" {
		t.Errorf("by country: %d %s", code, body)
	}

	// All sign-ins, not only failures: a success every 5 minutes from DE
	// joins them, and DE ranks with the others.
	var ok sinks.Batch
	for at := end.Add(-time.Hour); at.Before(end); at = at.Add(5 * time.Minute) {
		n++
		si := schemas.SignIn{ID: fmt.Sprintf("s-%d", n), Category: schemas.CategoryInteractive, CreatedDateTime: at.Add(3 * time.Minute),
			UserID: "u-ok", AppDisplayName: "Outlook", IPAddress: "198.51.100.10"}
		si.Location.CountryOrRegion = "DE"
		ok.SignIns = append(ok.SignIns, sinks.SignInRecord{SignIn: si})
	}
	if err := st.Write(context.Background(), &ok); err != nil {
		t.Fatal(err)
	}
	code, body = get("/v1/spikes?by=country&of=signins&from=2025-03-05T11:00:00Z&to=2025-03-05T12:00:00Z")
	totals := map[string]int{}
	if err := json.Unmarshal(body, &rep); code != http.StatusOK || err != nil || rep.Of != sinks.OfSignIns {
		t.Fatalf("of=signins: %d %s", code, body)
	}
	for _, s := range rep.Series {
		totals[s.Value] = s.Total
	}
	if want := map[string]int{"NG": 40, "FR": 24, "DE": 12}; !reflect.DeepEqual(totals, want) {
		t.Errorf("sign-ins by country in the last hour: %v, want %v", totals, want)
	}
	code, body = get("/v1/spikes?by=country&from=2025-03-05T11:00:00Z&to=2025-03-05T12:00:00Z")
	if err := json.Unmarshal(body, &rep); code != http.StatusOK || err != nil || rep.Of != sinks.OfFailures || len(rep.Series) != 2 {
		t.Errorf("failures by country after the successes: %d %s", code, body)
	}

	for _, c := range []struct{ query, param string }{
		{"by=user", "by"},
		{"of=everything", "of"},
		{"step=10m", "step"},
		{"top=0", "top"},
		{"top=51", "top"},
		{"from=yesterday", "from"},
		{"to=2025-03-05", "to"},
		{"from=2025-03-05T12:00:00Z&to=2025-03-05T11:00:00Z", "from"},
		{"from=2024-01-01T00:00:00Z&to=2025-03-01T00:00:00Z&step=5m", "from"},
	} {
		code, body := get("/v1/spikes?" + c.query)
		var e queryapi.Error
		if err := json.Unmarshal(body, &e); code != http.StatusBadRequest || err != nil || e.Parameter != c.param || e.Error == "" {
			t.Errorf("%s: %d %s, want 400 naming %s", c.query, code, body, c.param)
		}
	}
}

func spikeStarts(s report.Series) string {
	var out []string
	for _, b := range s.Buckets {
		if b.Spike {
			out = append(out, b.Start.Format("15:04"))
		}
	}
	return strings.Join(out, ",")
}

func sameSet(a, b []string) bool {
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	want := map[string]bool{}
	for _, x := range b {
		want[x] = true
	}
	return reflect.DeepEqual(m, want)
}

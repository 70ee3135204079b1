package webui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestPageAndAssetsAreServedWithTheirHeaders(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux)
	for path, want := range map[string]string{"/": "text/html", "/assets/app.js": "javascript", "/assets/app.css": "text/css"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), want) {
			t.Errorf("%s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: no content security policy", path)
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/nothing-here", nil))
	if rec.Code != 404 {
		t.Errorf("unknown path: %d", rec.Code)
	}
	// No asset comes from elsewhere: the page works offline.
	for _, name := range []string{"static/index.html", "static/app.js", "static/app.css"} {
		b, _ := static.ReadFile(name)
		for _, s := range []string{"http://", "https://", "//cdn"} {
			if i := strings.Index(string(b), s); i >= 0 && !strings.Contains(string(b[i:min(len(b), i+40)]), "www.w3.org/2000/svg") {
				t.Errorf("%s refers to %q", name, b[i:min(len(b), i+60)])
			}
		}
	}
}

// TestSpikeChartShowsWhenTheServerHasSpikes drives the page in headless
// Chromium against a stand-in for GET /v1/spikes (the endpoint comes from
// another part of the server): the chart appears with a bar per bucket,
// spikes marked.
func TestSpikeChartShowsWhenTheServerHasSpikes(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short (needs Chromium)")
	}
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the page test needs Chromium: apt-get install chromium")
	}
	mux := http.NewServeMux()
	Register(mux)
	mux.HandleFunc("GET /v1/spikes", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"by":"app","step":"1h","from":"2025-03-04T00:00:00Z","to":"2025-03-04T04:00:00Z","series":[
		 {"value":"Azure Portal","total":57,"buckets":[
		  {"start":"2025-03-04T00:00:00Z","count":3,"baseline":3,"score":0,"spike":false},
		  {"start":"2025-03-04T01:00:00Z","count":4,"baseline":3,"score":0.5,"spike":false},
		  {"start":"2025-03-04T02:00:00Z","count":48,"baseline":3.5,"score":9.1,"spike":true},
		  {"start":"2025-03-04T03:00:00Z","count":2,"baseline":3.6,"score":0,"spike":false}]},
		 {"value":"Teams","total":1,"buckets":[{"start":"2025-03-04T00:00:00Z","count":1,"baseline":1,"score":0,"spike":false}]}]}`))
	})
	mux.HandleFunc("GET /v1/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(browser), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.NoFirstRun)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#spikes svg"))); err != nil {
		t.Fatal(err)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelectorAll('#spikes svg rect').length`))
	if err != nil {
		t.Fatal(err)
	}
	spikes, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelectorAll('#spikes svg rect.spike').length`))
	if err != nil {
		t.Fatal(err)
	}
	caption, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#spikes figcaption")))
	if err != nil {
		t.Fatal(err)
	}
	// The series with a spike comes first.
	if bars != 5 || spikes != 1 || !strings.HasPrefix(caption, "Azure Portal") {
		t.Errorf("chart: %v bars, %v spikes, first caption %q", bars, spikes, caption)
	}
}

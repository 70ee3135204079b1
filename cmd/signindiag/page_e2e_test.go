package main

// The diagnostic page, end to end: the real binary (`run`) on the real
// Kafka and ClickHouse with the demo sign-ins, driven in headless
// Chromium through the DevTools protocol.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/queryapi"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// demoCorrelation is the demo's sign-in blocked by Conditional Access,
// flagged for review by its user.
const demoCorrelation = "c0000004-0000-4000-8000-000000000004"

// chromium finds Debian's chromium (or another Chrome) or fails saying how
// to install it.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped with -short (needs Chromium, Kafka and ClickHouse)")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the page test needs Chromium: apt-get install chromium (make test installs it through scripts/services-up.sh)")
	return ""
}

// screenshotDir is where the views are saved as PNG (quality 100): SIGNINDIAG_SCREENSHOTS_DIR
// (make screenshots sets docs/screenshots), else the test's temp dir.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SIGNINDIAG_SCREENSHOTS_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func TestDiagnosticPageInHeadlessChromium(t *testing.T) {
	browser := chromium(t)
	brokers := kafkatest.Brokers(t)
	chCfg := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("page")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })

	proc := startProcess(t, "run", processEnv(brokers, chCfg, prefix, map[string]string{
		"SIGNINDIAG_API_KEYS": "reader:" + e2eReaderToken + ",admin:" + e2eAdminToken}))
	proc.waitReady(t)
	kafkatest.Produce(t, brokers, prefix+"-signins", demoMessages(t)...)
	api := func(method, path, token string, out any) int {
		req, _ := http.NewRequest(method, proc.url(path), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if out != nil {
			_ = json.Unmarshal(body, out)
		}
		return resp.StatusCode
	}
	var d queryapi.Diagnosis
	eventually(t, 60*time.Second, "the demo's CA block diagnosed", func() bool {
		return api("GET", "/v1/diagnose?correlationId="+demoCorrelation, e2eReaderToken, &d) == 200 && len(d.DiagnosticResults) > 0
	})
	finding := d.DiagnosticResults[0]

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	shots := screenshotDir(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name), png, 0o644)
		})
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	eval := func(expr string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}

	// Without a token: the search is refused, and the page says so.
	run("open the page without a token",
		chromedp.Navigate(proc.url("/")),
		chromedp.WaitVisible(chromedp.CSS("#token-panel")),
		chromedp.Click(chromedp.CSS("#token-skip")),
		chromedp.SendKeys(chromedp.CSS("#q-id"), demoCorrelation),
		chromedp.Click(chromedp.CSS("#q-submit")),
		chromedp.WaitVisible(chromedp.CSS("#status.error")),
		chromedp.WaitVisible(chromedp.CSS("#token-panel")),
		shot("page-401.png"))
	if s := text("#status"); !strings.Contains(s, "401") {
		t.Fatalf("without a token the page says %q, want a 401 state", s)
	}

	// With the token (asked once, kept for the session): the result.
	run("search by correlation id with a token",
		chromedp.SendKeys(chromedp.CSS("#token-input"), e2eReaderToken),
		chromedp.Click(chromedp.CSS("#token-submit")),
		chromedp.WaitNotVisible(chromedp.CSS("#token-panel")),
		chromedp.Click(chromedp.CSS("#q-submit")),
		chromedp.WaitVisible(chromedp.CSS("#results")),
		chromedp.WaitVisible(chromedp.CSS(`[data-finding="`+finding.ID+`"]`)),
		shot("page-diagnose.png"))
	summary := text("#summary-table")
	if !strings.Contains(summary, demoCorrelation) || !strings.Contains(summary, "53003") {
		t.Errorf("authentication summary lacks the sign-in: %q", summary)
	}
	card := text(`[data-finding="` + finding.ID + `"]`)
	if !strings.Contains(card, finding.Title) || !strings.Contains(card, "Recommendations") || len(finding.Recommendations) == 0 ||
		!strings.Contains(card, finding.Recommendations[0]) {
		t.Errorf("diagnostic result shows %q, want %q with its recommendations", card, finding.Title)
	}
	if len(finding.Policies) > 0 && !strings.Contains(card, finding.Policies[0].DisplayName) {
		t.Errorf("the policy that mattered (%s) is not shown: %q", finding.Policies[0].DisplayName, card)
	}
	if stored := eval(`sessionStorage.getItem('signindiag.token')`); stored != e2eReaderToken {
		t.Errorf("session storage holds %q", stored)
	}

	// Columns: add the failure reason, drop the IP address.
	run("choose columns",
		chromedp.Click(chromedp.CSS("#columns summary")),
		chromedp.Click(chromedp.CSS(`#column-list input[data-column="reason"]`)),
		chromedp.Click(chromedp.CSS(`#column-list input[data-column="ip"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#summary-table th[data-column="reason"]`)),
		shot("page-columns.png"))
	headers := eval(`[...document.querySelectorAll('#summary-table th')].map(th => th.dataset.column).join(',')`).(string)
	if strings.Contains(headers, "ip") || !strings.Contains(headers, "reason") {
		t.Errorf("columns after choosing: %v", headers)
	}

	// Feedback, stored in ClickHouse.
	sel := `[data-finding="` + finding.ID + `"]`
	run("give feedback",
		chromedp.SendKeys(chromedp.CSS(sel+` textarea`), "matches what the user reported"),
		chromedp.Click(chromedp.CSS(sel+` button[data-feedback="yes"]`)),
		chromedp.WaitVisible(chromedp.CSS(sel+` button[aria-pressed="true"]`)))
	if s := text(sel + ` .feedback [role=status]`); !strings.Contains(s, "saved") {
		t.Errorf("after feedback the page says %q", s)
	}
	var fl queryapi.FeedbackList
	if code := api("GET", "/v1/feedback?findingId="+finding.ID, e2eAdminToken, &fl); code != 200 || len(fl.Feedback) != 1 ||
		!fl.Feedback[0].Helpful || fl.Feedback[0].Comment != "matches what the user reported" || !strings.HasPrefix(fl.Feedback[0].GivenBy, "reader:") {
		t.Errorf("stored feedback: %d %+v", code, fl)
	}
	metrics := fetch(t, proc.url("/metrics"))
	if !strings.Contains(metrics, `signindiag_feedback_total{helpful="true",scenario="`+finding.Scenario+`"} 1`) {
		t.Errorf("feedback metric missing from /metrics")
	}

	// The flagged tab, reached from the keyboard (arrow keys move between tabs).
	run("flagged tab by keyboard",
		chromedp.Focus(chromedp.CSS("#tab-diagnose")),
		chromedp.KeyEvent(kb.ArrowRight),
		chromedp.WaitVisible(chromedp.CSS("#view-flagged")),
		chromedp.WaitVisible(chromedp.CSS("#flagged-list .flag")),
		shot("page-flagged.png"))
	if s := text("#flagged-list"); !strings.Contains(s, demoCorrelation) {
		t.Errorf("flagged tab lacks the flagged sign-in: %q", s)
	}
	// A reader may not acknowledge: the page shows the 403.
	run("acknowledge as a reader",
		chromedp.Click(chromedp.CSS("#flagged-list .flag button")),
		chromedp.WaitVisible(chromedp.CSS("#flagged-list .flag [role=status]")))
	eventuallyText(ctx, t, "#flagged-list .flag [role=status]", "403")

	// Narrow screens: nothing wider than the viewport but the tables,
	// which scroll in their own box.
	run("narrow width",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)),
		chromedp.Click(chromedp.CSS("#tab-diagnose")),
		chromedp.WaitVisible(chromedp.CSS("#results")),
		shot("page-narrow.png"))
	if eval(`document.documentElement.scrollWidth > window.innerWidth + 1`) == true {
		t.Error("the page is wider than a 390 px screen")
	}
	// Spikes: the chart shows when the server has /v1/spikes, and hides
	// on its 404.
	spikes := api("GET", "/v1/spikes", e2eReaderToken, nil)
	hidden := eval(`document.querySelector('#spikes').hidden`) == true
	if (spikes == 404) != hidden {
		t.Errorf("/v1/spikes answers %d, and the chart's hidden is %v", spikes, hidden)
	}
}

func eventuallyText(ctx context.Context, t *testing.T, sel, want string) {
	t.Helper()
	var s string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel))); err == nil && strings.Contains(s, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s says %q, want %q", sel, s, want)
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// demoMessages are the lines of testdata/demo/signins.jsonl, one message
// each, as `make demo` sends them.
func demoMessages(t *testing.T) [][]byte {
	t.Helper()
	data, err := os.ReadFile("../../testdata/demo/signins.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, append([]byte(nil), line...))
		}
	}
	if len(out) == 0 {
		t.Fatal(fmt.Errorf("no demo messages"))
	}
	return out
}

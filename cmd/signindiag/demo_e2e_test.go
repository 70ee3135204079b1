package main

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/queryapi"
)

// demoLookup is a URL path the demo printed, with what it names.
var demoLookup = regexp.MustCompile(`curl 'http://[^/]+(/v1/[^']+)'`)

// demoLookups waits until the demo printed its lookups and returns them.
func demoLookups(t *testing.T, p *process) []string {
	t.Helper()
	var paths []string
	eventually(t, 120*time.Second, "the demo's ready-made lookups", func() bool {
		select {
		case err := <-p.done:
			p.dumpLog()
			t.Fatalf("the demo exited early: %v", err)
		default:
		}
		data, _ := os.ReadFile(p.log)
		if !strings.Contains(string(data), "Serving http") {
			return false
		}
		paths = nil
		for _, m := range demoLookup.FindAllStringSubmatch(string(data), -1) {
			paths = append(paths, m[1])
		}
		return true
	})
	return paths
}

// TestDemoServesWhatItPrintsAndKeepsItAcrossRestarts runs `signindiag
// demo` as a newcomer would (no Kafka, no ClickHouse: the embedded
// store), follows the lookups it prints, stops it, starts it again and
// finds the same answers.
func TestDemoServesWhatItPrintsAndKeepsItAcrossRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	env := map[string]string{"SIGNINDIAG_STORE": "sqlite", "SIGNINDIAG_DATA_DIR": dir, "SIGNINDIAG_API_KEYS": ""}
	first := startProcess(t, "demo", env, "--signins", "4000", "--seed", "11")
	paths := demoLookups(t, first)
	if len(paths) < 4 {
		t.Fatalf("the demo printed %d lookups, want a blocked sign-in, a sprayed user, a flagged sign-in and the queue: %q", len(paths), paths)
	}
	for _, path := range paths {
		if code, body := get(t, first, path); code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	var blocked queryapi.Diagnosis
	if _, err := first.getJSON(paths[0], &blocked); err != nil || len(blocked.DiagnosticResults) == 0 ||
		blocked.DiagnosticResults[0].Scenario != "blocked_by_conditional_access" {
		t.Errorf("the blocked sign-in's diagnosis: %+v (%v)", blocked.DiagnosticResults, err)
	}
	var sprayed queryapi.Diagnosis
	if _, err := first.getJSON(paths[1], &sprayed); err != nil || !hasScenario(sprayed, "password_spray") {
		t.Errorf("the sprayed user's diagnosis lacks password_spray: %v", err)
	}
	var queue queryapi.FlaggedList
	if _, err := first.getJSON(paths[len(paths)-1], &queue); err != nil || len(queue.Flagged) == 0 {
		t.Errorf("the flagged queue: %d items (%v)", len(queue.Flagged), err)
	}
	first.stop()

	// Started again with other traffic, the demo still holds the first
	// run's sign-ins and findings.
	second := startProcess(t, "demo", env, "--signins", "1000", "--seed", "12")
	demoLookups(t, second)
	var again queryapi.Diagnosis
	if _, err := second.getJSON(paths[0], &again); err != nil || findingIDs(again) != findingIDs(blocked) || findingIDs(blocked) == "" {
		t.Errorf("after a restart %s gives findings %q, the first run gave %q (%v)", paths[0], findingIDs(again), findingIDs(blocked), err)
	}
	second.stop()
}

func findingIDs(d queryapi.Diagnosis) string {
	var ids []string
	for _, f := range d.DiagnosticResults {
		ids = append(ids, f.ID+"/"+f.Scenario)
	}
	return strings.Join(ids, ",")
}

func hasScenario(d queryapi.Diagnosis, scenario string) bool {
	for _, f := range d.DiagnosticResults {
		if f.Scenario == scenario {
			return true
		}
	}
	return false
}

func get(t *testing.T, p *process, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(p.url(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

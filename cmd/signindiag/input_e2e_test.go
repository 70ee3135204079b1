package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/input"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
	"github.com/signindiag/signindiag/sinks/sqlite"
)

// testdataFiles are every file of sign-ins (and of things that are not
// sign-ins) the repository holds.
func testdataFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"../../testdata/*/*.json*", "../../testdata/*/*.csv", "../../schemas/entra/testdata/shapes/*.json*"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found %d testdata files: %v", len(files), files)
	}
	return files
}

// collector gathers what the file reader publishes.
type collector struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (c *collector) Publish(_ context.Context, _ string, value []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, value)
	return nil
}

// runToEnd runs `signindiag args...` until it exits and returns its
// standard output.
func runToEnd(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("signindiag %s: %v\nstdout:\n%s\nstderr (end):\n%s", strings.Join(args, " "), err, stdout.String(), tail(stderr.String(), 40))
	}
	return stdout.String()
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// TestFileInputStoresWhatKafkaStores reads every testdata file with
// `ingest --input` (in-process stages, no Kafka) and sends the same
// messages through Kafka to `ingest`, both into ClickHouse, and compares
// the sign-ins, findings and incidents stored.
func TestFileInputStoresWhatKafkaStores(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	files := testdataFiles(t)

	viaKafka := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("files")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })
	var c collector
	for _, f := range files {
		if _, err := input.ReadFile(context.Background(), f, "signins", false, &c); err != nil {
			t.Fatal(err)
		}
	}
	// The files span years: with a lateness as long, no sign-in is late
	// in either run, whatever order it arrives in, so every count is
	// exact and the two runs must agree on all of them.
	lateness := map[string]string{"SIGNINDIAG_ALLOWED_LATENESS": "87600h"}
	proc := startProcess(t, "ingest", processEnv(brokers, viaKafka, prefix, lateness))
	proc.waitReady(t)
	kafkatest.Produce(t, brokers, prefix+"-signins", c.msgs...)
	waitDurable(t, brokers, prefix)
	proc.stop()
	want := readState(t, viaKafka)

	viaFiles := clickhousetest.Config(t)
	env := processEnv(nil, viaFiles, prefix+"-f", map[string]string{"SIGNINDIAG_DATA_DIR": t.TempDir(), "SIGNINDIAG_ALLOWED_LATENESS": "87600h"})
	delete(env, "SIGNINDIAG_KAFKA_BROKERS")
	out := runToEnd(t, env, append([]string{"ingest", "--input"}, files...)...)
	got := readState(t, viaFiles)

	if len(want.signIns) < 300 || len(want.findings) < 20 {
		t.Fatalf("the Kafka run stored %d sign-ins and %d findings: too few to compare", len(want.signIns), len(want.findings))
	}
	compareStates(t, "files into ClickHouse", got, want)
	for _, line := range []string{"Diagnosed ", "Dead letters: ", "invalid_json"} {
		if !strings.Contains(out, line) {
			t.Errorf("summary lacks %q:\n%s", line, out)
		}
	}

	// The same files into the embedded store: what a newcomer runs.
	dir := t.TempDir()
	env = processEnv(nil, viaFiles, prefix+"-s", map[string]string{"SIGNINDIAG_DATA_DIR": dir, "SIGNINDIAG_ALLOWED_LATENESS": "87600h",
		"SIGNINDIAG_STORE": "sqlite"})
	delete(env, "SIGNINDIAG_KAFKA_BROKERS")
	runToEnd(t, env, append([]string{"ingest", "--input"}, files...)...)
	compareStates(t, "files into SQLite", readContract(t, filepath.Join(dir, "signindiag.db")), want)
}

// readContract reads a store's sign-ins, findings and incidents through
// the storage contract, in readState's terms.
func readContract(t *testing.T, path string) storedState {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: path}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	out := storedState{signIns: map[string]uint64{}, findings: map[string]string{}, incidents: map[string]string{}}
	for q := (sinks.SignInListQuery{From: from, To: to, Limit: 500}); ; {
		page, err := st.ListSignIns(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, si := range page {
			out.signIns[si.ID]++
		}
		if len(page) < q.Limit {
			break
		}
		last := page[len(page)-1]
		q.AfterMs, q.AfterID = last.CreatedDateTime.UnixMilli(), last.ID
	}
	for q := (sinks.FindingListQuery{From: from, To: to, Limit: 500}); ; {
		page, err := st.ListFindings(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page {
			if f.IncidentID != "" && len(f.MemberSignInIDs) > 0 {
				continue // incidents are compared below
			}
			out.findings[f.ID] = fmt.Sprintf("%s/%s/%d", f.Scenario, f.SignInID, f.Failures48h)
		}
		if len(page) < q.Limit {
			break
		}
		last := page[len(page)-1]
		q.AfterAt, q.AfterID = last.OccurredAt, last.ID
	}
	incs, err := st.Incidents(ctx, sinks.IncidentQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range incs {
		out.incidents[r.ID] = fmt.Sprintf("%s/%s/%d/%d/%d/%d", r.Detection, r.Key, r.Start.UnixMilli(), r.First.UnixMilli(), r.Last.UnixMilli(), r.Count)
	}
	return out
}

// compareStates reports every sign-in, finding and incident that differs.
func compareStates(t *testing.T, who string, got, want storedState) {
	t.Helper()
	diff := func(kind string, got, want map[string]string) {
		for id, w := range want {
			if g, ok := got[id]; !ok || g != w {
				t.Errorf("%s: %s %s = %q, want %q", who, kind, id, g, w)
			}
		}
		for id, g := range got {
			if _, ok := want[id]; !ok {
				t.Errorf("%s: extra %s %s = %q", who, kind, id, g)
			}
		}
	}
	signIns := func(m map[string]uint64) map[string]string {
		out := map[string]string{}
		for id := range m {
			out[id] = "stored"
		}
		return out
	}
	diff("sign-in", signIns(got.signIns), signIns(want.signIns))
	diff("finding", got.findings, want.findings)
	diff("incident", got.incidents, want.incidents)
}

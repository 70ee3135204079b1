package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/schemas/entra"
)

// countSignIns decodes messages and returns how often each sign-in came.
func countSignIns(t *testing.T, values [][]byte) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for i, v := range values {
		records, err := entra.DecodeSignIns(v)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		for _, r := range records {
			if r.Err != nil {
				t.Fatalf("message %d: %v", i, r.Err)
			}
			seen[r.SignIn.Identity()]++
		}
	}
	return seen
}

func TestLoadgenWritesFiles(t *testing.T) {
	dir := t.TempDir()
	out, flags := filepath.Join(dir, "signins.jsonl"), filepath.Join(dir, "flags.jsonl")
	var stdout, stderr strings.Builder
	code := run([]string{"loadgen", "--count", "3000", "--shape", "mixed", "--flags", "0.02", "--duplicates", "0",
		"--out", out, "--flag-out", flags}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "signins=3000 ") {
		t.Errorf("summary: %q", stdout.String())
	}
	seen := countSignIns(t, readLines(t, out))
	if len(seen) != 3000 {
		t.Errorf("%d distinct sign-ins in the file, want 3000", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s written %d times without duplicates asked for", id, n)
		}
	}
	flagLines := readLines(t, flags)
	if len(flagLines) == 0 {
		t.Fatal("no flags written")
	}
	for _, v := range flagLines {
		if _, err := entra.DecodeFlag(v); err != nil {
			t.Fatalf("flag %s: %v", v, err)
		}
	}
}

func TestLoadgenRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--shape", "csv", "--out", "-"},
		{"--count", "-1", "--out", "-"},
		{"--late", "1.5", "--out", "-"},
		{"--start", "yesterday", "--out", "-"},
	} {
		var stdout, stderr strings.Builder
		if code := run(append([]string{"loadgen"}, args...), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}

// TestLoadgenToKafka sends a small stream, unkeyed, to fresh topics and
// reads it back: every sign-in arrives, spread over the partitions.
func TestLoadgenToKafka(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic, flagTopic := kafkatest.UniqueName("lg-signins"), kafkatest.UniqueName("lg-flags")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topic, flagTopic) })
	t.Setenv("SIGNINDIAG_KAFKA_BROKERS", strings.Join(brokers, ","))
	var stdout, stderr strings.Builder
	code := run([]string{"loadgen", "--count", "2000", "--shape", "eventhubs", "--records-per-batch", "20",
		"--flags", "0.01", "--partitions", "3", "--topic", topic, "--flag-topic", flagTopic}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	msgs := kafkatest.ReadAll(t, brokers, topic)
	var values [][]byte
	partitions := map[int]bool{}
	for _, m := range msgs {
		if len(m.Key) != 0 {
			t.Fatalf("keyed message on partition %d", m.Partition)
		}
		values = append(values, m.Value)
		partitions[m.Partition] = true
	}
	if seen := countSignIns(t, values); len(seen) != 2000 {
		t.Errorf("%d distinct sign-ins read back, want 2000", len(seen))
	}
	if len(partitions) != 3 {
		t.Errorf("messages on %d of 3 partitions", len(partitions))
	}
	if len(kafkatest.ReadAll(t, brokers, flagTopic)) == 0 {
		t.Error("no flags on the flag topic")
	}
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestLoadgenPacesAndStops: --rate holds the pace (after a burst of a
// tenth of a second), --duration ends an endless run.
func TestLoadgenPacesAndStops(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.jsonl")
	var stdout, stderr strings.Builder
	began := time.Now()
	if code := run([]string{"loadgen", "--count", "2000", "--rate", "5000", "--shape", "graph", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// 2000 sign-ins at 5000/s with a 500 burst: at least 0.3 s.
	if took := time.Since(began); took < 280*time.Millisecond || took > 5*time.Second {
		t.Errorf("2000 sign-ins at 5000/s took %v", took)
	}

	stdout.Reset()
	began = time.Now()
	if code := run([]string{"loadgen", "--duration", "300ms", "--rate", "2000", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if took := time.Since(began); took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("--duration 300ms ran %v", took)
	}
	if n := len(countSignIns(t, readLines(t, out))); n == 0 || n > 2000 {
		t.Errorf("%d sign-ins in 300 ms at 2000/s", n)
	}
}

package source

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKafkaErrorsAreWarningsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	w := newLimitedWarn(slog.New(slog.NewTextHandler(&buf, nil)))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }
	const join = "Failed to join group %s: %v"
	w.Printf(join, "g", "EOF")
	now = now.Add(time.Second)
	w.Printf(join, "g", "EOF")
	w.Printf(join, "g", "EOF")
	w.Printf("Failed to leave group %s: %v", "g", "EOF") // another kind is not held back
	if n := strings.Count(buf.String(), "level=WARN"); n != 2 {
		t.Fatalf("%d WARN lines within 10s, want 2:\n%s", n, buf.String())
	}
	now = now.Add(10 * time.Second)
	w.Printf(join, "g", "EOF")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "level=WARN") || !strings.Contains(lines[2], "Failed to join group g: EOF") ||
		!strings.Contains(lines[2], "suppressed=2") {
		t.Fatalf("after 10s: %q", lines)
	}
}

func TestOffsetResetsAreWarnedAndReported(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var skipped []int64
	l := newReaderLogs("keyed", 4, log, newLimitedWarn(log), func(n int64) { skipped = append(skipped, n) })

	// A (re)connection at an offset still kept: no reset.
	l.info(fmtInitializing, 4, "keyed", int64(120))
	l.info(fmtSeeking, 4, "keyed", int64(120))
	// Resuming from a committed offset below the log start: the reader
	// seeks to the first offset kept.
	l.info(fmtInitializing, 4, "keyed", int64(100))
	l.info(fmtSeeking, 4, "keyed", int64(250))
	// Starting from the first offset (nothing committed) is no reset, even
	// after a connection that never got to seek.
	l.info(fmtInitializing, 4, "keyed", int64(10))
	l.info(fmtInitializing, 4, "keyed", int64(-2))
	l.info(fmtSeeking, 4, "keyed", int64(0))
	// Mid-stream, a fetch below the log start.
	l.errorf(fmtBeforeFirst, 4, "keyed", int64(300), int64(340), int64(40))
	// Other reader errors are warnings, not resets.
	l.errorf("the kafka reader got an unknown error reading partition %d of %s at offset %d: %s", 4, "keyed", int64(1), "EOF")

	if len(skipped) != 2 || skipped[0] != 150 || skipped[1] != 40 {
		t.Fatalf("resets reported: %v, want [150 40]", skipped)
	}
	out := buf.String()
	if strings.Count(out, "offset fell off the log's retention") != 2 || !strings.Contains(out, "skipped=150") ||
		!strings.Contains(out, "level=WARN msg=\"the kafka reader got an unknown error") {
		t.Fatalf("log:\n%s", out)
	}
}

// The messages matched above are kafka-go's own: a kafka-go upgrade that
// rewords them fails here instead of silently hiding resets.
func TestResetMessagesMatchKafkaGo(t *testing.T) {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/segmentio/kafka-go").Output()
	if err != nil {
		t.Fatalf("go list kafka-go: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "reader.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{fmtInitializing, fmtSeeking, fmtBeforeFirst} {
		if !bytes.Contains(src, []byte(`"`+f+`"`)) {
			t.Errorf("kafka-go's reader.go no longer logs %q", f)
		}
	}
}

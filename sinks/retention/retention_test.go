package retention

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

type expirer struct {
	cutoffs []time.Time
	errs    []error
	stop    context.CancelFunc
	after   int // calls before stop
}

func (e *expirer) DropExpired(_ context.Context, before time.Time) ([]string, error) {
	e.cutoffs = append(e.cutoffs, before)
	var err error
	if len(e.errs) > 0 {
		err, e.errs = e.errs[0], e.errs[1:]
	}
	if len(e.cutoffs) == e.after {
		e.stop()
	}
	if err != nil {
		return nil, err
	}
	return []string{"signins/202501"}, nil
}

func TestRunDropsBeforeNowMinusKeepAndSurvivesAFailedPass(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	e := &expirer{stop: cancel, after: 2, errs: []error{errors.New("server gone")}}
	total := 0
	Run(ctx, Config{Keep: 30 * 24 * time.Hour, Every: time.Millisecond, Now: func() time.Time { return now }}, e,
		slog.New(slog.NewTextHandler(io.Discard, nil)), func(n int) { total += n })
	if len(e.cutoffs) != 2 {
		t.Fatalf("%d passes, want 2 (the failed one retried)", len(e.cutoffs))
	}
	if want := now.Add(-30 * 24 * time.Hour); !e.cutoffs[0].Equal(want) {
		t.Fatalf("cutoff %v, want %v", e.cutoffs[0], want)
	}
	if total != 1 {
		t.Fatalf("counted %d dropped partitions, want 1 (the failed pass dropped none)", total)
	}
}

func TestRunKeepsEverythingWithoutARetention(t *testing.T) {
	e := &expirer{stop: func() {}}
	Run(context.Background(), Config{Keep: 0}, e, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if len(e.cutoffs) != 0 {
		t.Fatalf("dropped with no retention: %v", e.cutoffs)
	}
}

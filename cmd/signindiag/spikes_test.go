package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/spikes/report"
)

func TestPrintSpikesListsSpikeBucketsNewestFirst(t *testing.T) {
	at := time.Date(2025, 3, 5, 11, 0, 0, 0, time.UTC)
	rep := &report.Report{By: "errorCode", From: at, To: at.Add(time.Hour), Series: []report.Series{{Value: "53003", Buckets: []report.Bucket{
		{Start: at, Count: 2, Baseline: 2, Score: 0},
		{Start: at.Add(5 * time.Minute), Count: 60, Baseline: 2.5, Score: 23.4, Spike: true},
		{Start: at.Add(10 * time.Minute), Count: 45, Baseline: 2.5, Score: 17, Spike: true},
	}}}}
	var out bytes.Buffer
	printSpikes(&out, []*report.Report{rep}, false)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "DIMENSION") ||
		strings.Join(strings.Fields(lines[1]), " ") != "errorCode 53003 2025-03-05 11:10 45 2.5 17.0 yes" ||
		strings.Join(strings.Fields(lines[2]), " ") != "errorCode 53003 2025-03-05 11:05 60 2.5 23.4 yes" {
		t.Errorf("table:\n%s", out.String())
	}
	out.Reset()
	rep.Series[0].Buckets = rep.Series[0].Buckets[:1]
	printSpikes(&out, []*report.Report{rep}, false)
	if got := out.String(); got != "no failure spikes from 2025-03-05 11:00 to 2025-03-05 12:00 UTC\n" {
		t.Errorf("no spikes: %q", got)
	}
}

func TestSpikesCommandRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--by", "user"}, {"--step", "10m"}, {"--top", "0"}, {"--since", "1m"}} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"spikes"}, args...), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), args[0]) {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

package diagnose

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// appDeviceFailures is a fourth windowed detection written as the issue
// asks it to be possible: many failed sign-ins of one user to one app from
// one device (the client replaying a cached old password). It is one
// value; shipping it is this value registered from a file of rules/ and
// its tests. The stage runs it with no change.
var appDeviceFailures = rules.Detection{
	Scenario: "app_device_failures", Key: rules.KeyUser, Window: time.Hour, Threshold: 5,
	Split: func(c rules.Candidate) string {
		if c.AppID == "" || c.Device == "" {
			return ""
		}
		return c.AppID + "|" + c.Device
	},
	Qualifies: func(c rules.Candidate) bool { return c.ErrorCode == 50126 },
	Describe: func(d *rules.Detection, v rules.IncidentView) rules.Description {
		return rules.Description{Severity: schemas.SeverityMedium, Title: "A client keeps failing",
			Summary: fmt.Sprintf("%d failed sign-ins from one app and device (%s)", v.Count, v.Key)}
	},
}

func TestAFourthDetectionRunsUnchanged(t *testing.T) {
	var recent []sinks.FailureRecord
	for i := range 3 { // three failures of Outlook on the laptop before a restart
		recent = append(recent, sinks.FailureRecord{UserKey: "u1", Identity: fmt.Sprint("/old", i), At: t0.Add(time.Duration(i) * time.Minute),
			ErrorCode: 50126, AppID: "outlook", Device: "LAPTOP-7"})
	}
	store := &fakeStore{recent: recent}
	cat := catalog.Default()
	p := NewProcessor(Config{Window: 48 * time.Hour, AllowedLateness: time.Hour, Detections: []rules.Detection{appDeviceFailures},
		Now: func() time.Time { return t0 }}, 0, store, rules.NewEngine(rules.Config{}, cat), cat, noCounters{})
	if _, err := p.Warm(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, client := range []struct{ app, device string }{
		{"outlook", "LAPTOP-7"}, {"teams", "LAPTOP-7"}, {"outlook", "PHONE-2"}, {"outlook", "LAPTOP-7"}, {"teams", "LAPTOP-7"},
	} {
		si := failure(fmt.Sprint("n", i), t0.Add(time.Duration(10+i)*time.Minute))
		si.AppID, si.DeviceDetail.DisplayName = client.app, client.device
		if err := p.Process(ctx, event(t, schemas.Event{SignIn: si}, int64(3+i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Outlook on the laptop: three before the restart, two after.
	inc := store.batches[0].Incidents
	if len(inc) != 1 || inc[0].Key != "u1|outlook|LAPTOP-7" || inc[0].Count != 5 || !inc[0].First.Equal(t0) ||
		inc[0].Summary != "5 failed sign-ins from one app and device (u1|outlook|LAPTOP-7)" {
		t.Fatalf("incidents: %+v", inc)
	}
	if appDeviceFailures.BaseKey(inc[0].Key) != "u1" {
		t.Fatal("the incident's user")
	}
}

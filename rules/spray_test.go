package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

func detection(t *testing.T, scenario string) Detection {
	t.Helper()
	for _, d := range Detections(nil) {
		if d.Scenario == scenario {
			return d
		}
	}
	t.Fatalf("no detection %s", scenario)
	return Detection{}
}

func TestDetectionsAreRegisteredWithTheirDefaults(t *testing.T) {
	var got []string
	for _, d := range Detections(nil) {
		got = append(got, d.Scenario)
		if d.Describe == nil || d.Qualifies == nil || d.Window <= 0 || d.Threshold < 1 {
			t.Errorf("%s is incomplete: %+v", d.Scenario, d)
		}
	}
	if strings.Join(got, ",") != "excessive_failures_48h,mfa_fatigue,password_spray" {
		t.Fatalf("detections %v", got)
	}
	for scenario, want := range map[string]struct {
		window    time.Duration
		threshold int
		key       KeyKind
	}{
		ScenarioExcessiveFailures48h: {48 * time.Hour, 10, KeyUser},
		ScenarioMFAFatigue:           {10 * time.Minute, 10, KeyUser},
		ScenarioPasswordSpray:        {20 * time.Minute, 5, KeyIP},
	} {
		d := detection(t, scenario)
		if d.Window != want.window || d.Threshold != want.threshold || d.Key != want.key {
			t.Errorf("%s: window %s threshold %d key %s", scenario, d.Window, d.Threshold, d.Key)
		}
	}
}

func TestDetectionsTuning(t *testing.T) {
	ds := Detections(DetectionsConfig{
		ScenarioMFAFatigue:           {Window: time.Hour, Threshold: 3},
		ScenarioPasswordSpray:        {Codes: []int{50126}},
		ScenarioExcessiveFailures48h: {Threshold: -1},
	})
	if len(ds) != 2 {
		t.Fatalf("a threshold below 1 turns a detection off: %d detections", len(ds))
	}
	if ds[0].Window != time.Hour || ds[0].Threshold != 3 {
		t.Errorf("fatigue tuning: %+v", ds[0])
	}
	if ds[1].Qualifies(Candidate{ErrorCode: 50053, IP: "x", UserKey: "u"}) || !ds[1].Qualifies(Candidate{ErrorCode: 50126, IP: "x", UserKey: "u"}) {
		t.Error("spray codes not tuned")
	}
}

func TestDetectionsQualify(t *testing.T) {
	fatigue, spray, excessive := detection(t, ScenarioMFAFatigue), detection(t, ScenarioPasswordSpray), detection(t, ScenarioExcessiveFailures48h)
	for code, want := range map[int]bool{500121: true, 50126: false, 50074: false} {
		if got := fatigue.Qualifies(Candidate{ErrorCode: code, IsFailure: true, UserKey: "u"}); got != want {
			t.Errorf("fatigue, code %d: %v", code, got)
		}
	}
	for code, want := range map[int]bool{50126: true, 50053: true, 50055: true, 53003: false, 0: false, 500121: false} {
		if got := spray.Qualifies(Candidate{ErrorCode: code, IsFailure: true, UserKey: "u", IP: "198.51.100.1"}); got != want {
			t.Errorf("spray, code %d: %v", code, got)
		}
	}
	if spray.Qualifies(Candidate{ErrorCode: 50126, UserKey: "u"}) || spray.Qualifies(Candidate{ErrorCode: 50126, IP: "198.51.100.1"}) {
		t.Error("a spray candidate needs an IP and a user")
	}
	if !excessive.Qualifies(Candidate{IsFailure: true}) || excessive.Qualifies(Candidate{ErrorCode: 50074}) {
		t.Error("excessive failures counts catalogue failures only")
	}
	c := Candidate{UserKey: "u1", IP: "198.51.100.1"}
	if spray.KeyOf(c) != "198.51.100.1" || spray.MemberOf(c, "s1") != "u1" || fatigue.KeyOf(c) != "u1" || fatigue.MemberOf(c, "s1") != "s1" {
		t.Error("keys and members")
	}
}

func TestDetectionsDescribeIncidents(t *testing.T) {
	first := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	latest := &schemas.SignIn{ID: "m12", UserID: "u", UserPrincipalName: "fay@contoso.example", IPAddress: "203.0.113.7",
		AppDisplayName: "Office 365", Status: schemas.Status{ErrorCode: 500121, AdditionalDetails: "MFA denied; user declined the authentication"}}
	v := IncidentView{Key: "u", Count: 12, First: first, Last: first.Add(11 * time.Minute), Latest: latest}
	d := detection(t, ScenarioMFAFatigue)
	got := d.Describe(&d, v)
	if got.Severity != schemas.SeverityHigh || !strings.Contains(got.Summary, "fay@contoso.example had 12 denied MFA prompts between 09:00:00 and 09:11:00 UTC") ||
		!strings.Contains(got.Summary, "threshold 10 within 10 minutes") || len(got.Recommendations) == 0 {
		t.Errorf("fatigue: %+v", got)
	}
	d = detection(t, ScenarioPasswordSpray)
	v.Key, v.Count, v.Latest = "198.51.100.99", 25, nil
	if got := d.Describe(&d, v); !strings.Contains(got.Summary, "from IP 198.51.100.99 within 20 minutes (25 failed sign-ins") ||
		got.Title != "Password spray from 198.51.100.99" {
		t.Errorf("spray: %+v", got)
	}
	d = detection(t, ScenarioExcessiveFailures48h)
	v.Key, v.Count = "u", 10
	if got := d.Describe(&d, v); !strings.Contains(got.Summary, "user u had 10 failed sign-ins") || !strings.Contains(got.Title, "48 hours") {
		t.Errorf("excessive: %+v", got)
	}
}

func TestSprayCandidates(t *testing.T) {
	r := NewSprayRule(DefaultSprayConfig())
	base := schemas.SignIn{UserID: "u", IPAddress: "198.51.100.1"}
	for code, want := range map[int]bool{50126: true, 50053: true, 50055: true, 53003: false, 0: false, 500121: false} {
		si := base
		si.Status.ErrorCode = code
		if got := r.Candidate(&si); got != want {
			t.Errorf("code %d: candidate %v, want %v", code, got, want)
		}
	}
	noIP := base
	noIP.IPAddress, noIP.Status.ErrorCode = "", 50126
	sp := schemas.SignIn{ServicePrincipalID: "sp", IPAddress: "198.51.100.1", Status: schemas.Status{ErrorCode: 50126}}
	if r.Candidate(&noIP) || r.Candidate(&sp) {
		t.Error("sign-ins without an IP or without a user are no spray candidates")
	}
}

func TestDetectionSplitKeys(t *testing.T) {
	d := Detection{Key: KeyUser, Split: func(c Candidate) string { return c.AppID }}
	if k := d.KeyOf(Candidate{UserKey: "u", AppID: "a"}); k != "u|a" || d.BaseKey(k) != "u" {
		t.Errorf("split key %q", k)
	}
	if k := d.KeyOf(Candidate{UserKey: "u"}); k != "" {
		t.Errorf("no split part, key %q", k)
	}
	si := &schemas.SignIn{DeviceDetail: schemas.DeviceDetail{OperatingSystem: "Windows10", Browser: "Edge 120"}}
	if c := CandidateOf(si, true); c.Device != "Windows10 Edge 120" {
		t.Errorf("device %q", c.Device)
	}
}

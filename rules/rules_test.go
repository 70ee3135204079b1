package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
)

func signIn(code int, mutate ...func(*schemas.SignIn)) *schemas.SignIn {
	si := &schemas.SignIn{
		ID:                "aa000001",
		CreatedDateTime:   time.Date(2025, 3, 4, 9, 10, 2, 0, time.UTC),
		UserPrincipalName: "ana.ruiz@contoso.example",
		UserID:            "0a1b2c3d",
		AppID:             "c44b4083",
		AppDisplayName:    "Azure Portal",
		IPAddress:         "203.0.113.24",
		ClientAppUsed:     "Browser",
		IsInteractive:     true,
		CorrelationID:     "9d2e7c55",
		Status:            schemas.Status{ErrorCode: code},
		Location:          schemas.Location{City: "Lyon", CountryOrRegion: "FR"},
	}
	for _, m := range mutate {
		m(si)
	}
	return si
}

func evaluate(t *testing.T, si *schemas.SignIn, before, after int) []schemas.Finding {
	t.Helper()
	cat := catalog.Default()
	e := NewEngine(Config{FailureThreshold: 10}, cat)
	return e.Evaluate(Input{SignIn: si, IsFailure: cat.IsFailure(si.Status.ErrorCode),
		FailuresBefore: before, Failures48h: after, Window: 48 * time.Hour})
}

func scenarios(fs []schemas.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Scenario)
	}
	return out
}

func TestScenarioPerErrorCode(t *testing.T) {
	cases := []struct {
		name   string
		si     *schemas.SignIn
		before int
		after  int
		want   []string
	}{
		{"success", signIn(0), 0, 0, nil},
		{"bare interrupt 50074 (nothing says who asked for MFA) is no finding", signIn(50074), 0, 0, nil},
		{"keep me signed in 50140", signIn(50140), 0, 0, nil},
		{"benign 70043", signIn(70043), 0, 0, nil},
		{"CA block", signIn(53003), 0, 1, []string{ScenarioBlockedByConditionalAccess}},
		{"bad password", signIn(50126), 0, 1, []string{ScenarioInvalidCredentials}},
		{"locked", signIn(50053), 3, 4, []string{ScenarioAccountLocked}},
		{"other known failure", signIn(50057), 0, 1, []string{ScenarioErrorCodeInsight}},
		{"unknown code", signIn(4242424), 0, 1, []string{ScenarioErrorCodeInsight}},
		{"bad password at the 48h threshold: windowed detections are not the engine's", signIn(50126), 9, 10,
			[]string{ScenarioInvalidCredentials}},
		{"a success never crosses", signIn(0), 12, 12, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := scenarios(evaluate(t, c.si, c.before, c.after))
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("scenarios = %v, want %v", got, c.want)
			}
		})
	}
}

func TestBlockedByConditionalAccessNamesThePolicyAndActions(t *testing.T) {
	si := signIn(53003, func(si *schemas.SignIn) {
		si.AppliedConditionalAccessPolicies = []schemas.AppliedPolicy{
			{DisplayName: "Block access outside FR/DE", EnforcedGrantControls: []string{"Block"}, Result: "failure"},
			{DisplayName: "Require MFA for admins", EnforcedGrantControls: []string{"Mfa"}, Result: "notApplied"},
		}
		si.FlaggedForReview = true
	})
	fs := evaluate(t, si, 0, 1)
	if len(fs) != 1 {
		t.Fatalf("got %d findings", len(fs))
	}
	f := fs[0]
	if !strings.Contains(f.Summary, `"Block access outside FR/DE"`) || strings.Contains(f.Summary, "Require MFA") {
		t.Errorf("summary should name the failing policy only: %s", f.Summary)
	}
	if !strings.Contains(f.Summary, "ana.ruiz@contoso.example") || !strings.Contains(f.Summary, "Azure Portal") {
		t.Errorf("summary should name user and app: %s", f.Summary)
	}
	if !strings.Contains(strings.Join(f.Recommendations, " "), "What If") {
		t.Errorf("recommendations should point to the What If tool: %v", f.Recommendations)
	}
	if f.ErrorCode != 53003 || f.ErrorCodeURL != "https://login.microsoftonline.com/error?code=53003" || !f.Flagged {
		t.Errorf("finding fields: %+v", f)
	}
	if f.SignInID != si.ID || f.CorrelationID != si.CorrelationID || f.UserKey != "0a1b2c3d" || f.Failures48h != 1 {
		t.Errorf("finding ids: %+v", f)
	}
}

func TestInvalidCredentialsSuspectsACachedPasswordOnRepeatedClientFailures(t *testing.T) {
	human := evaluate(t, signIn(50126), 0, 1)[0]
	client := evaluate(t, signIn(50126, func(si *schemas.SignIn) {
		si.ClientAppUsed = "IMAP4"
		si.IsInteractive = false
	}), 5, 6)[0]
	if strings.Contains(strings.Join(human.Recommendations, " "), "old password") {
		t.Errorf("a single browser failure should not suggest a cached password: %v", human.Recommendations)
	}
	joined := strings.Join(client.Recommendations, " ")
	if !strings.Contains(joined, "old password") || !strings.Contains(joined, "legacy authentication") {
		t.Errorf("repeated IMAP failures should suggest a cached password and legacy auth: %v", client.Recommendations)
	}
	if client.Severity != schemas.SeverityMedium || human.Severity != schemas.SeverityLow {
		t.Errorf("severities: human %s, client %s", human.Severity, client.Severity)
	}
}

func TestAccountLockedTellsMaliciousIPApart(t *testing.T) {
	f := evaluate(t, signIn(50053, func(si *schemas.SignIn) {
		si.Status.FailureReason = "Account is locked because the sign-in came from an IP address with malicious activity."
	}), 0, 1)[0]
	if f.Severity != schemas.SeverityHigh || !strings.Contains(f.Summary, "malicious") {
		t.Errorf("malicious-IP lockout: severity %s, summary %s", f.Severity, f.Summary)
	}
}

func TestFindingIDsAreDeterministicPerScenarioAndSignIn(t *testing.T) {
	a := evaluate(t, signIn(50126), 9, 10)
	b := evaluate(t, signIn(50126), 9, 10)
	if len(a) != 1 || a[0].ID != b[0].ID {
		t.Fatalf("ids differ between identical evaluations: %v / %v", a, b)
	}
	if locked := evaluate(t, signIn(50053), 9, 10); locked[0].ID == a[0].ID {
		t.Fatal("two scenarios of one sign-in share an id")
	}
	other := evaluate(t, signIn(50126, func(si *schemas.SignIn) { si.ID = "aa000002" }), 9, 10)
	if other[0].ID == a[0].ID {
		t.Fatal("two sign-ins share a finding id")
	}
}

func TestErrorCodeInsightForUnknownCodeKeepsWhatEntraSent(t *testing.T) {
	f := evaluate(t, signIn(4242424, func(si *schemas.SignIn) { si.Status.FailureReason = "Something new." }), 0, 1)[0]
	if !strings.Contains(f.Summary, "4242424") || !strings.Contains(f.Summary, "Something new.") {
		t.Errorf("summary: %s", f.Summary)
	}
	if !strings.Contains(strings.Join(f.Recommendations, " "), "error?code=4242424") {
		t.Errorf("recommendations: %v", f.Recommendations)
	}
}

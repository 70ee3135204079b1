package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

func TestSprayRuleFiresOncePerCrossing(t *testing.T) {
	r := NewSprayRule(DefaultSprayConfig())
	si := &schemas.SignIn{ID: "s5", Category: schemas.CategoryInteractive, UserID: "u5", UserPrincipalName: "u5@contoso.example",
		IPAddress: "198.51.100.99", CreatedDateTime: time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC), Status: schemas.Status{ErrorCode: 50126}}
	cases := []struct {
		before, after int
		want          bool
	}{{3, 4, false}, {4, 5, true}, {5, 5, false}, {5, 6, false}}
	for _, c := range cases {
		f, ok := r.Evaluate(SprayInput{SignIn: si, Users: c.after, UsersBefore: c.before})
		if ok != c.want {
			t.Errorf("%d → %d users: fired %v, want %v", c.before, c.after, ok, c.want)
		}
		if ok && (f.Scenario != ScenarioPasswordSpray || !strings.Contains(f.Summary, "198.51.100.99") ||
			!strings.Contains(f.Summary, "5 distinct users") || f.Severity != schemas.SeverityHigh || f.ID == "") {
			t.Errorf("finding: %+v", f)
		}
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

func TestFatigueRuleFiresOnTheTenthFailedPrompt(t *testing.T) {
	r := NewFatigueRule(DefaultFatigueConfig())
	si := &schemas.SignIn{ID: "m10", UserID: "u", UserPrincipalName: "fay@contoso.example", IPAddress: "203.0.113.7",
		CreatedDateTime: time.Date(2025, 3, 4, 9, 9, 0, 0, time.UTC),
		Status:          schemas.Status{ErrorCode: 500121, AdditionalDetails: "MFA denied; user declined the authentication"}}
	if !r.Candidate(si) || r.Candidate(&schemas.SignIn{Status: schemas.Status{ErrorCode: 50126}}) {
		t.Fatal("candidates: 500121 only")
	}
	if _, ok := r.Evaluate(FatigueInput{SignIn: si, Prompts: 9, PromptsBefore: 8}); ok {
		t.Error("fired below the threshold")
	}
	f, ok := r.Evaluate(FatigueInput{SignIn: si, Prompts: 10, PromptsBefore: 9, Failures48h: 10})
	if !ok || f.Scenario != ScenarioMFAFatigue || !strings.Contains(f.Summary, "10 denied MFA prompts") || f.Failures48h != 10 {
		t.Fatalf("finding: %v %+v", ok, f)
	}
	if _, ok := r.Evaluate(FatigueInput{SignIn: si, Prompts: 11, PromptsBefore: 10}); ok {
		t.Error("fired again after the crossing")
	}
}

package wire

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/schemas"
)

func TestSprayCandidateRoundTrips(t *testing.T) {
	for _, fx := range fixtureSignIns(t) {
		want := NewSprayCandidate(fx.signIn)
		data, err := AppendSprayCandidate(nil, &want)
		if err != nil {
			t.Fatal(err)
		}
		var got SprayCandidate
		if err := DecodeSprayCandidate(data, &got); err != nil {
			t.Fatalf("%s: %v", fx.name, err)
		}
		requireSame(t, fx.name, got, want)
	}
}

// The partial sign-in must give the spray stage and rule exactly what the
// full one gives: same candidacy, keys and incident description.
func TestSprayCandidateSignInServesTheRuleLikeTheFullSignIn(t *testing.T) {
	cfg := rules.DefaultSprayConfig()
	rule := rules.NewSprayRule(cfg)
	var spray rules.Detection
	for _, d := range rules.Detections(nil) {
		if d.Scenario == rules.ScenarioPasswordSpray {
			spray = d
		}
	}
	sprayed := 0
	check := func(name string, full *schemas.SignIn) {
		c := NewSprayCandidate(full)
		data, err := AppendSprayCandidate(nil, &c)
		if err != nil {
			t.Fatal(err)
		}
		var decoded SprayCandidate
		if err := DecodeSprayCandidate(data, &decoded); err != nil {
			t.Fatal(err)
		}
		part := decoded.SignIn()
		if rule.Candidate(part) != rule.Candidate(full) || part.UserKey() != full.UserKey() || part.Identity() != full.Identity() ||
			decoded.UserKey() != full.UserKey() || decoded.Identity() != full.Identity() || !part.CreatedDateTime.Equal(full.CreatedDateTime) {
			t.Fatalf("%s: candidate, key, identity or time differ", name)
		}
		cPart, cFull := rules.CandidateOf(part, true), rules.CandidateOf(full, true)
		ok := spray.Qualifies(cFull)
		if spray.Qualifies(cPart) != ok || spray.KeyOf(cPart) != spray.KeyOf(cFull) || spray.MemberOf(cPart, part.Identity()) != spray.MemberOf(cFull, full.Identity()) {
			t.Fatalf("%s: the detection qualifies or keys the candidate differently", name)
		}
		view := rules.IncidentView{Key: full.IPAddress, Count: cfg.Threshold, First: full.CreatedDateTime, Last: full.CreatedDateTime}
		view.Latest = full
		want := spray.Describe(&spray, view)
		view.Latest = part
		requireSame(t, name+" incident description", spray.Describe(&spray, view), want)
		if ok {
			sprayed++
		}
	}
	for _, fx := range fixtureSignIns(t) {
		check(fx.name, fx.signIn)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		si := new(schemas.SignIn)
		fillRandom(r, reflect.ValueOf(si).Elem())
		si.Status.ErrorCode = cfg.Codes[r.IntN(len(cfg.Codes))]
		check("random", si)
	}
	if sprayed == 0 {
		t.Fatal("no case raised password_spray: the comparison proved nothing")
	}
}

func TestSprayCandidateReadsLegacyJSON(t *testing.T) {
	si := benchSignIn(t, "3k")
	legacy, err := json.Marshal(schemas.Event{SignIn: si})
	if err != nil {
		t.Fatal(err)
	}
	var got SprayCandidate
	if err := DecodeSprayCandidate(legacy, &got); err != nil {
		t.Fatal(err)
	}
	requireSame(t, "legacy", got, NewSprayCandidate(si))
	if err := DecodeSprayCandidate([]byte(`{"flag":{"id":"f"}}`), &got); err == nil {
		t.Error("legacy flag on the IP topic: want an error")
	}
}

func TestSprayCandidateErrors(t *testing.T) {
	c := NewSprayCandidate(benchSignIn(t, "3k"))
	data, _ := AppendSprayCandidate(nil, &c)
	var got SprayCandidate
	for n := range len(data) {
		if err := DecodeSprayCandidate(data[:n], &got); err == nil {
			t.Fatalf("%d of %d bytes decoded without error", n, len(data))
		}
	}
	bad := append([]byte{Version + 1}, data[1:]...)
	if err := DecodeSprayCandidate(bad, &got); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("unknown version: got %v", err)
	}
	event, _ := AppendEvent(nil, &schemas.Event{SignIn: benchSignIn(t, "3k")})
	if err := DecodeSprayCandidate(event, &got); !errors.Is(err, ErrUnexpectedKind) {
		t.Errorf("full event on the IP topic: got %v", err)
	}
}

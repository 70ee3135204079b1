package wire

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

func TestEventRoundTripsEveryFixture(t *testing.T) {
	fixtures := fixtureSignIns(t)
	t.Logf("%d fixture sign-ins", len(fixtures))
	for _, fx := range fixtures {
		ev := schemas.Event{SignIn: fx.signIn}
		requireSame(t, fx.name, roundTrip(t, &ev), viaJSON(t, &ev))
	}
}

func TestEventRoundTripsRandomSignInsAndFlags(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		var ev schemas.Event
		if i%4 == 0 {
			ev.Flag = new(schemas.Flag)
			fillRandom(r, reflect.ValueOf(ev.Flag).Elem())
		} else {
			ev.SignIn = new(schemas.SignIn)
			fillRandom(r, reflect.ValueOf(ev.SignIn).Elem())
		}
		requireSame(t, "random event", roundTrip(t, &ev), viaJSON(t, &ev))
	}
}

func TestFlagRoundTrips(t *testing.T) {
	flags := []*schemas.Flag{
		{},
		{SignInID: "a", UserID: "U", FlaggedAt: time.Date(2025, 3, 1, 9, 0, 0, 123e6, time.UTC)},
		{ID: "f1", SignInID: "s", CorrelationID: "c", RequestID: "r", UserID: "u", UserPrincipalName: "a@b.c",
			FlaggedAt: time.Date(2025, 3, 1, 10, 30, 0, 0, time.FixedZone("CET", 3600)), FlaggedBy: "helpdesk", Reason: "user called"},
	}
	for _, f := range flags {
		ev := schemas.Event{Flag: f}
		got := roundTrip(t, &ev)
		requireSame(t, "flag", got, viaJSON(t, &ev))
		if got.Flag.FlaggedAt.Location() != time.UTC {
			t.Errorf("flaggedAt decoded in %v, want UTC", got.Flag.FlaggedAt.Location())
		}
	}
}

func TestNilAndEmptySlicesDecodeAsNil(t *testing.T) {
	si := &schemas.SignIn{ID: "x",
		SignInEventTypes: []string{}, AuthenticationDetails: []schemas.AuthenticationDetail{},
		AppliedConditionalAccessPolicies: []schemas.AppliedPolicy{{EnforcedGrantControls: []string{}, IncludeRulesSatisfied: nil}},
		NetworkLocationDetails:           []schemas.NetworkLocation{{NetworkNames: []string{}}}}
	ev := schemas.Event{SignIn: si}
	got := roundTrip(t, &ev)
	requireSame(t, "empty slices", got, viaJSON(t, &ev)) // JSON drops them (omitempty)
	if got.SignIn.SignInEventTypes != nil || got.SignIn.AppliedConditionalAccessPolicies[0].EnforcedGrantControls != nil {
		t.Error("empty slices should decode as nil, as from JSON")
	}
	requireSame(t, "nil slices", roundTrip(t, &schemas.Event{SignIn: &schemas.SignIn{}}), schemas.Event{SignIn: &schemas.SignIn{}})
}

func TestZeroTimesRoundTrip(t *testing.T) {
	si := &schemas.SignIn{ID: "z", AuthenticationDetails: []schemas.AuthenticationDetail{{AuthenticationMethod: "Password"}}}
	got := roundTrip(t, &schemas.Event{SignIn: si})
	if !got.SignIn.CreatedDateTime.IsZero() || got.SignIn.CreatedDateTime != (time.Time{}) {
		t.Errorf("zero createdDateTime came back as %#v", got.SignIn.CreatedDateTime)
	}
	if !got.SignIn.AuthenticationDetails[0].AuthenticationStepDateTime.IsZero() {
		t.Errorf("zero step time came back as %v", got.SignIn.AuthenticationDetails[0].AuthenticationStepDateTime)
	}
}

func TestTimesKeepTheInstantInUTC(t *testing.T) {
	at := time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("", -5*3600))
	got := roundTrip(t, &schemas.Event{SignIn: &schemas.SignIn{CreatedDateTime: at}})
	if c := got.SignIn.CreatedDateTime; !c.Equal(at) || c.Location() != time.UTC {
		t.Errorf("got %v (%v), want %v in UTC", c, c.Location(), at)
	}
}

func TestLegacyJSONEventsDecode(t *testing.T) {
	si := benchSignIn(t, "3k")
	for _, ev := range []schemas.Event{{SignIn: si}, {Flag: &schemas.Flag{SignInID: "s", UserID: "u", FlaggedAt: si.CreatedDateTime}}} {
		legacy, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var got schemas.Event
		if err := DecodeEvent(legacy, &got); err != nil {
			t.Fatalf("legacy JSON: %v", err)
		}
		requireSame(t, "legacy", got, viaJSON(t, &ev))
	}
	for _, bad := range []string{`{}`, `{"signIn":{},"flag":{}}`, `{"signIn":`} {
		var got schemas.Event
		if err := DecodeEvent([]byte(bad), &got); err == nil {
			t.Errorf("legacy %s: want an error", bad)
		}
	}
}

func TestUnknownVersionIsAClearError(t *testing.T) {
	data, err := AppendEvent(nil, &schemas.Event{SignIn: benchSignIn(t, "3k")})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []byte{0, Version + 1, 0xff} {
		data[0] = v
		var ev schemas.Event
		err := DecodeEvent(data, &ev)
		if !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("version %d: got %v, want ErrUnknownVersion", v, err)
		}
		if !strings.Contains(err.Error(), "version") {
			t.Errorf("error %q does not say what is wrong", err)
		}
	}
}

func TestWrongKindAndTrailingBytesAreErrors(t *testing.T) {
	var ev schemas.Event
	if err := DecodeEvent([]byte{Version, 'x', 0x80}, &ev); !errors.Is(err, ErrUnexpectedKind) {
		t.Errorf("unknown kind: got %v", err)
	}
	c := NewSprayCandidate(benchSignIn(t, "3k"))
	spray, _ := AppendSprayCandidate(nil, &c)
	if err := DecodeEvent(spray, &ev); !errors.Is(err, ErrUnexpectedKind) {
		t.Errorf("spray candidate on the user topic: got %v", err)
	}
	data, _ := AppendEvent(nil, &schemas.Event{Flag: &schemas.Flag{ID: "f"}})
	if err := DecodeEvent(append(data, 0xc0), &ev); !errors.Is(err, ErrTrailingBytes) {
		t.Errorf("trailing byte: got %v", err)
	}
}

func TestTruncatedInputIsAnError(t *testing.T) {
	for _, ev := range []schemas.Event{{SignIn: benchSignIn(t, "11k")}, {Flag: &schemas.Flag{ID: "f", UserID: "u", FlaggedAt: time.Now()}}} {
		data, err := AppendEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(data) {
			var got schemas.Event
			if err := DecodeEvent(data[:n], &got); err == nil {
				t.Fatalf("%d of %d bytes decoded without error", n, len(data))
			}
		}
	}
}

func TestEncodeRejectsEmptyAndDoubleEvents(t *testing.T) {
	if _, err := AppendEvent(nil, &schemas.Event{}); !errors.Is(err, ErrEmptyEvent) {
		t.Errorf("empty event: got %v", err)
	}
	if _, err := AppendEvent(nil, &schemas.Event{SignIn: &schemas.SignIn{}, Flag: &schemas.Flag{}}); err == nil {
		t.Error("event with both: want an error")
	}
}

func TestAppendKeepsTheCallersBytes(t *testing.T) {
	ev := schemas.Event{Flag: &schemas.Flag{ID: "f"}}
	one, _ := AppendEvent(nil, &ev)
	both, err := AppendEvent([]byte("prefix"), &ev)
	if err != nil || string(both[:6]) != "prefix" || string(both[6:]) != string(one) {
		t.Fatalf("append to a prefix: %q, %v", both, err)
	}
}

func TestDecodeIntoAReusedEventLeavesNothingBehind(t *testing.T) {
	full, _ := AppendEvent(nil, &schemas.Event{SignIn: benchSignIn(t, "11k")})
	sparse := &schemas.SignIn{ID: "only-id"}
	small, _ := AppendEvent(nil, &schemas.Event{SignIn: sparse})
	flag, _ := AppendEvent(nil, &schemas.Event{Flag: &schemas.Flag{ID: "f"}})

	var ev schemas.Event
	if err := DecodeEvent(full, &ev); err != nil {
		t.Fatal(err)
	}
	policies := ev.SignIn.AppliedConditionalAccessPolicies
	if err := DecodeEvent(small, &ev); err != nil {
		t.Fatal(err)
	}
	requireSame(t, "reused", ev, schemas.Event{SignIn: sparse})
	if err := DecodeEvent(full, &ev); err != nil {
		t.Fatal(err)
	}
	if &policies[0] == &ev.SignIn.AppliedConditionalAccessPolicies[0] {
		t.Error("a decoded slice reuses an earlier value's memory")
	}
	if err := DecodeEvent(flag, &ev); err != nil || ev.SignIn != nil || ev.Flag.ID != "f" {
		t.Errorf("flag after sign-in: %+v, %v", ev, err)
	}
}

func TestDecodedStringsDoNotAliasTheMessage(t *testing.T) {
	data, _ := AppendEvent(nil, &schemas.Event{SignIn: &schemas.SignIn{ID: "abc"}})
	var ev schemas.Event
	if err := DecodeEvent(data, &ev); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'X'
	}
	if ev.SignIn.ID != "abc" {
		t.Errorf("overwriting the message changed the decoded id to %q", ev.SignIn.ID)
	}
}

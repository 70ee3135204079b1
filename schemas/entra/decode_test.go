package entra

import (
	"errors"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

const graphSignIn = `{
  "id": "4f6c2a10-1b2c-4d3e-9f00-aa11bb22cc33",
  "createdDateTime": "2025-03-04T09:12:31Z",
  "userPrincipalName": "ana.ruiz@contoso.example",
  "userId": "0A1B2C3D-0000-4000-8000-000000000001",
  "appDisplayName": "Office 365 Exchange Online",
  "ipAddress": "203.0.113.24",
  "clientAppUsed": "Browser",
  "isInteractive": true,
  "correlationId": "9d2e7c55-5a3f-4b8e-9c1d-123456789abc",
  "conditionalAccessStatus": "failure",
  "flaggedForReview": true,
  "status": { "errorCode": 53003, "failureReason": "Access has been blocked by Conditional Access policies.", "additionalDetails": null },
  "appliedConditionalAccessPolicies": [{"id": "p1", "displayName": "Block outside FR", "enforcedGrantControls": ["Block"], "result": "failure"}]
}`

func TestDecodeGraphSignIn(t *testing.T) {
	got, err := DecodeSignIns([]byte(graphSignIn))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Err != nil {
		t.Fatalf("got %+v, want one sign-in", got)
	}
	si := got[0].SignIn
	if si.ID != "4f6c2a10-1b2c-4d3e-9f00-aa11bb22cc33" || si.Status.ErrorCode != 53003 || !si.FlaggedForReview {
		t.Errorf("fields: %+v", si)
	}
	if want := time.Date(2025, 3, 4, 9, 12, 31, 0, time.UTC); !si.CreatedDateTime.Equal(want) {
		t.Errorf("createdDateTime = %s, want %s", si.CreatedDateTime, want)
	}
	if si.Category != schemas.CategoryInteractive {
		t.Errorf("category = %q, want %q", si.Category, schemas.CategoryInteractive)
	}
	if si.UserKey() != "0a1b2c3d-0000-4000-8000-000000000001" {
		t.Errorf("user key = %q, want the lower-cased object id", si.UserKey())
	}
	if p := si.AppliedConditionalAccessPolicies; len(p) != 1 || p[0].DisplayName != "Block outside FR" || p[0].EnforcedGrantControls[0] != "Block" {
		t.Errorf("policies = %+v", p)
	}
}

func TestDecodeGraphListResponse(t *testing.T) {
	msg := `{"@odata.context":"x","value":[` + graphSignIn + `,{"id":"b","createdDateTime":"2025-03-04T10:00:00Z","userId":"u2","status":{"errorCode":0}}]}`
	got, err := DecodeSignIns([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Err != nil || got[1].Err != nil || got[1].SignIn.ID != "b" {
		t.Fatalf("got %+v, want two sign-ins", got)
	}
}

func TestDecodeDiagnosticEnvelopeKeepsGoodRecordsAroundABadOne(t *testing.T) {
	msg := `{"records":[
	 {"time":"2025-03-04T09:10:02.1234567Z","category":"SignInLogs","correlationId":"c1",
	  "properties":{"id":"aa1","createdDateTime":"2025-03-04T09:10:02.1234567+00:00","userId":"u1","status":{"errorCode":50126}}},
	 {"time":"2025-03-04T09:11:00Z","category":"SignInLogs","properties":{"createdDateTime":"2025-03-04T09:11:00Z","userId":"u1"}},
	 {"time":"2025-03-04T11:30:00.0000000Z","category":"ServicePrincipalSignInLogs",
	  "properties":{"id":"cc1","createdDateTime":"2019-10-18T04:45:48.0729893-05:00","userId":null,"servicePrincipalId":"SP1","status":{"errorCode":7000222}}}
	]}`
	got, err := DecodeSignIns([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d records, want 3", len(got))
	}
	if got[0].Err != nil || got[0].SignIn.CorrelationID != "c1" || got[0].SignIn.Category != schemas.CategoryInteractive {
		t.Errorf("record 0: %+v", got[0])
	}
	if want := time.Date(2025, 3, 4, 9, 10, 2, 123000000, time.UTC); !got[0].SignIn.CreatedDateTime.Equal(want) {
		t.Errorf("record 0 time = %s, want %s (millisecond precision)", got[0].SignIn.CreatedDateTime, want)
	}
	if !errors.Is(got[1].Err, ErrMalformed) || ReasonOf(got[1].Err) != ReasonMissingID || len(got[1].Raw) == 0 {
		t.Errorf("record 1: err %v, want missing_id with raw bytes", got[1].Err)
	}
	sp := got[2].SignIn
	if got[2].Err != nil || sp.Category != schemas.CategoryServicePrincipal || sp.UserKey() != "sp:sp1" {
		t.Errorf("record 2: %+v %v", sp, got[2].Err)
	}
	if want := time.Date(2019, 10, 18, 9, 45, 48, 72000000, time.UTC); !sp.CreatedDateTime.Equal(want) {
		t.Errorf("record 2 time = %s, want %s (offset normalised to UTC)", sp.CreatedDateTime, want)
	}
}

func TestDecodeRejectsWithAReason(t *testing.T) {
	cases := []struct {
		name, msg, reason string
	}{
		{"not json", `hello`, ReasonInvalidJSON},
		{"broken json", `{"id":`, ReasonInvalidJSON},
		{"array", `[1,2]`, ReasonInvalidJSON},
		{"unknown object", `{"foo":"bar"}`, ReasonUnknownShape},
		{"no time", `{"id":"a","userId":"u"}`, ReasonMissingTime},
		{"no user", `{"id":"a","createdDateTime":"2025-03-04T09:12:31Z"}`, ReasonMissingUser},
		{"bad time", `{"id":"a","createdDateTime":"yesterday","userId":"u"}`, ReasonInvalidJSON},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeSignIns([]byte(c.msg))
			if err == nil && len(got) == 1 {
				err = got[0].Err
			}
			if !errors.Is(err, ErrMalformed) || ReasonOf(err) != c.reason {
				t.Fatalf("err = %v, want reason %s", err, c.reason)
			}
		})
	}
}

func TestDecodeFlag(t *testing.T) {
	f, err := DecodeFlag([]byte(`{"signInId":"aa1","userPrincipalName":"Ana@Contoso.example","flaggedAt":"2025-03-04T09:15:00+01:00","flaggedBy":"helpdesk"}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.UserKey() != "ana@contoso.example" || f.FlaggedAt.Hour() != 8 || f.ID == "" {
		t.Errorf("flag = %+v", f)
	}
	again, _ := DecodeFlag([]byte(`{"signInId":"aa1","userPrincipalName":"Ana@Contoso.example","flaggedAt":"2025-03-04T09:15:00+01:00","flaggedBy":"helpdesk"}`))
	if again.ID != f.ID {
		t.Errorf("flag id not deterministic: %s vs %s", f.ID, again.ID)
	}
	for _, bad := range []string{
		`{"userId":"u","flaggedAt":"2025-03-04T09:15:00Z"}`,
		`{"signInId":"a","flaggedAt":"2025-03-04T09:15:00Z"}`,
		`{"signInId":"a","userId":"u"}`,
		`nope`,
	} {
		if _, err := DecodeFlag([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeFlag(%s) err = %v, want ErrMalformed", bad, err)
		}
	}
}

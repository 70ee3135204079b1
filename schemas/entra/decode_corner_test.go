package entra

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// one decodes a message that must hold exactly one record.
func one(t *testing.T, msg string) (*schemas.SignIn, error) {
	t.Helper()
	got, err := DecodeSignIns([]byte(msg))
	if err != nil {
		return nil, err
	}
	if len(got) != 1 {
		t.Fatalf("%d records, want 1", len(got))
	}
	if got[0].Err == nil {
		checkInvariants(t, got[0].SignIn)
	}
	return got[0].SignIn, got[0].Err
}

func mustOne(t *testing.T, msg string) *schemas.SignIn {
	t.Helper()
	si, err := one(t, msg)
	if err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	return si
}

func TestParseTimeFormats(t *testing.T) {
	ok := map[string]string{
		"2019-03-12T16:02:15.5522137Z":       "2019-03-12T16:02:15.5522137Z",
		"2007-01-09T09:41:00.22Z":            "2007-01-09T09:41:00.22Z",
		"2007-01-09T09:41:00.123456789Z":     "2007-01-09T09:41:00.123456789Z",
		"2007-01-09T09:41:00.1234567891234Z": "2007-01-09T09:41:00.123456789Z",
		"2007-01-09T09:41:00+00:00":          "2007-01-09T09:41:00Z",
		"2007-01-09T11:41:00+02:00":          "2007-01-09T09:41:00Z",
		"2019-10-18T04:45:48.0729893-05:00":  "2019-10-18T09:45:48.0729893Z",
		"2022-01-24T05:10:14.429773+00:00":   "2022-01-24T05:10:14.429773Z",
		"2007-01-09T09:41:00":                "2007-01-09T09:41:00Z",
		"2007-01-09t09:41:00z":               "2007-01-09T09:41:00Z",
		"2007-01-09T09:41:00+0100":           "2007-01-09T08:41:00Z",
		"2007-01-09T09:41:00 UTC":            "2007-01-09T09:41:00Z",
		"2007-01-09":                         "2007-01-09T00:00:00Z",
		"2025-01-15 09:30:45.123":            "2025-01-15T09:30:45.123Z",
		"2023-07-26 22:58:30.983201900":      "2023-07-26T22:58:30.9832019Z",
		"01/09/2007 09:41:00":                "2007-01-09T09:41:00Z",
		"1/9/2007 9:41:00 AM":                "2007-01-09T09:41:00Z",
		"1/9/2007 10:41:00 AM +01:00":        "2007-01-09T09:41:00Z",
		"11/14/2025 1:48:53 AM":              "2025-11-14T01:48:53Z",
		"11/14/2025 1:48:53 PM":              "2025-11-14T13:48:53Z",
		"1/9/2007 12:00:00 AM":               "2007-01-09T00:00:00Z",
		"1/9/2007 12:00:00 PM":               "2007-01-09T12:00:00Z",
		"4/28/2021, 2:08:45.221 PM":          "2021-04-28T14:08:45.221Z",
		"2/29/2024 23:59:59":                 "2024-02-29T23:59:59Z",
		" 2007-01-09T09:41:00Z ":             "2007-01-09T09:41:00Z",
	}
	for in, want := range ok {
		got, good := parseTime([]byte(in))
		if !good || !got.Equal(mustTime(t, want)) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v %v, want %s", in, got, good, want)
		}
	}
	for _, in := range []string{"", "yesterday", "2007-13-09T09:41:00Z", "2007-02-30T09:41:00Z", "2023-02-29",
		"2007-01-09T24:00:00Z", "2007-01-09T09:60:00Z", "2007-01-09T09:41:60Z", "2007-01-09T09:41:00+24:00",
		"2007-01-09T09:41:00.Z", "2007-01-09T09:41:00Zjunk", "13/9/2007 9:41:00", "1/9/2007 13:41:00 PM",
		"1/9/2007 0:41:00 AM", "1/9/07 9:41", "2007-1-9T09:41:00Z", "1e9", "-2007-01-09T09:41:00Z",
		"0000-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-01:00"} {
		if got, good := parseTime([]byte(in)); good {
			t.Errorf("parseTime(%q) = %v, want rejection", in, got)
		}
	}
}

func TestLenientScalars(t *testing.T) {
	si := mustOne(t, `{"id":12345,"createdDateTime":"2025-03-04T09:12:31Z","userId":"u",
	  "autonomousSystemNumber":"8075","processingTimeInMilliseconds":"35.0",
	  "status":{"errorCode":"50126","failureReason":null},
	  "isInteractive":"True","flaggedForReview":1,"isTenantRestricted":"no",
	  "deviceDetail":{"isCompliant":"TRUE","isManaged":"0","browser":77},
	  "location":{"geoCoordinates":{"latitude":"45.76","longitude":"NaN","altitude":"1e400"}}}`)
	if si.ID != "12345" || si.AutonomousSystemNumber != 8075 || si.ProcessingTimeInMilliseconds != 35 ||
		si.Status.ErrorCode != 50126 || !si.IsInteractive || !si.FlaggedForReview || si.IsTenantRestricted ||
		!si.DeviceDetail.IsCompliant || si.DeviceDetail.IsManaged || si.DeviceDetail.Browser != "77" {
		t.Errorf("%+v", si)
	}
	g := si.Location.GeoCoordinates
	if g == nil || g.Latitude != 45.76 || g.Longitude != 0 || g.Altitude != nil {
		t.Errorf("geo %+v (NaN and out-of-range numbers are dropped)", g)
	}
	// Values of the wrong type are ignored, not fatal.
	si = mustOne(t, `{"id":"a","createdDateTime":"2025-03-04T09:12:31Z","userId":"u","appId":{"x":1},
	  "autonomousSystemNumber":"AS8075","status":{"errorCode":[1]},"isInteractive":{},"signInEventTypes":{"a":1},
	  "appliedConditionalAccessPolicies":{"id":"p"},"deviceDetail":[1,2],"location":"FR"}`)
	if si.AppID != "" || si.AutonomousSystemNumber != 0 || si.Status.ErrorCode != 0 || si.AppliedConditionalAccessPolicies != nil ||
		si.Location.CountryOrRegion != "FR" {
		t.Errorf("%+v", si)
	}
}

func TestErrorCodeFromStatusThenResultType(t *testing.T) {
	cases := []struct {
		record string
		want   int
	}{
		{`"resultType":"50140","properties":{"status":{"errorCode":0}}`, 0},
		{`"resultType":"50140","properties":{"status":{"errorCode":"50126"}}`, 50126},
		{`"resultType":"50140","properties":{"status":{"additionalDetails":"MFA required"}}`, 50140},
		{`"resultType":"50140","properties":{}`, 50140},
		{`"resultType":"Failure","properties":{}`, 0},
		{`"resultType":50053,"properties":{"status":null}`, 50053},
		{`"properties":{"status":"{\"errorCode\":53003}","resultType":"0"}`, 53003},
	}
	for _, c := range cases {
		rec := strings.Replace(c.record, `"properties":{}`, `"properties":{"id":"a","userId":"u"}`, 1)
		rec = strings.Replace(rec, `"properties":{"s`, `"properties":{"id":"a","userId":"u","s`, 1)
		msg := `{"time":"2025-03-04T09:10:02Z","category":"SignInLogs",` + rec + `}`
		if si := mustOne(t, msg); si.Status.ErrorCode != c.want {
			t.Errorf("%s: errorCode %d, want %d", c.record, si.Status.ErrorCode, c.want)
		}
	}
	// The Log Analytics row's ResultDescription fills a missing failureReason.
	si := mustOne(t, `{"Id":"a","TimeGenerated":"2025-03-04T09:10:02Z","UserId":"u","ResultType":"50057","ResultDescription":"User account is disabled."}`)
	if si.Status.ErrorCode != 50057 || si.Status.FailureReason != "User account is disabled." {
		t.Errorf("%+v", si.Status)
	}
}

func TestConditionsSatisfied(t *testing.T) {
	cases := map[string]string{
		`0`:                      "none",
		`"0"`:                    "none",
		`3`:                      "application,users",
		`"19"`:                   "application,users,clientType",
		`1024`:                   "ipAddressSeenByAzureAD",
		`4096`:                   "unknownFutureValue",
		`65536`:                  "insiderRisk",
		`131075`:                 "application,users,131072",
		`"application,users"`:    "application,users",
		`"Application, Users"`:   "application,users",
		`"DEVICEPLATFORM"`:       "devicePlatform",
		`"none"`:                 "none",
		`"application,newThing"`: "application,newThing",
		`"n"`:                    "n",
		`-1`:                     "-1",
		`null`:                   "",
		`""`:                     "",
	}
	for in, want := range cases {
		si := mustOne(t, `{"id":"a","createdDateTime":"2025-03-04T09:12:31Z","userId":"u","appliedConditionalAccessPolicies":[{"conditionsSatisfied":`+in+`}]}`)
		if got := si.AppliedConditionalAccessPolicies[0].ConditionsSatisfied; got != want {
			t.Errorf("conditionsSatisfied %s = %q, want %q", in, got, want)
		}
	}
	// Flag values, checked against Graph's member order.
	for i, name := range conditionNames[1:] {
		if got := conditionsList(1 << i); got != name {
			t.Errorf("bit %d = %q, want %q", i, got, name)
		}
	}
}

func TestEnumsInAnyCase(t *testing.T) {
	si := mustOne(t, `{"id":"a","createdDateTime":"2025-03-04T09:12:31Z","userId":"u",
	  "userType":"Member","conditionalAccessStatus":"NOTAPPLIED","authenticationRequirement":"MultiFactorAuthentication",
	  "riskLevelAggregated":"High","riskLevelDuringSignIn":"HIDDEN","riskState":"AtRisk","riskDetail":"AdminConfirmedSigninSafe",
	  "crossTenantAccessType":"b2b_collaboration","clientCredentialType":"Client Secret","incomingTokenType":"Primary Refresh Token",
	  "authenticationProtocol":"OAUTH2","tokenIssuerType":"azuread","signInEventTypes":["InteractiveUser","somethingNew"],
	  "signInIdentifierType":"PhoneNumber","managedServiceIdentity":{"msiType":"SYSTEMASSIGNED"},
	  "appliedConditionalAccessPolicies":[{"result":"ReportOnlyInterrupted"},{"result":"brandNewResult"}],
	  "networkLocationDetails":[{"networkType":"TRUSTEDNAMEDLOCATION"}]}`)
	got := []string{si.UserType, si.ConditionalAccessStatus, si.AuthenticationRequirement, si.RiskLevelAggregated,
		si.RiskLevelDuringSignIn, si.RiskState, si.RiskDetail, si.CrossTenantAccessType, si.ClientCredentialType,
		si.IncomingTokenType, si.AuthenticationProtocol, si.TokenIssuerType, si.SignInEventTypes[0], si.SignInEventTypes[1],
		si.SignInIdentifierType, si.ManagedServiceIdentity.MsiType, si.AppliedConditionalAccessPolicies[0].Result,
		si.AppliedConditionalAccessPolicies[1].Result, si.NetworkLocationDetails[0].NetworkType, si.Category}
	want := []string{"member", "notApplied", "multiFactorAuthentication", "high", "hidden", "atRisk", "adminConfirmedSigninSafe",
		"b2bCollaboration", "clientSecret", "primaryRefreshToken", "oAuth2", "AzureAD", "interactiveUser", "somethingNew",
		"phoneNumber", "systemAssigned", "reportOnlyInterrupted", "brandNewResult", "trustedNamedLocation", schemas.CategoryInteractive}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	// Old Log Analytics rows send conditionalAccessStatus as the member index.
	if si := mustOne(t, `{"Id":"a","CreatedDateTime":"2025-03-04T09:12:31Z","UserId":"u","ConditionalAccessStatus":1}`); si.ConditionalAccessStatus != "failure" {
		t.Errorf("conditionalAccessStatus 1 = %q", si.ConditionalAccessStatus)
	}
}

func TestCategories(t *testing.T) {
	row := `{"Id":"a","CreatedDateTime":"2025-03-04T09:12:31Z","UserId":"u","ServicePrincipalId":"sp",%s}`
	cases := map[string]string{
		`"Type":"SigninLogs"`:                                              schemas.CategoryInteractive,
		`"Type":"AADNonInteractiveUserSignInLogs"`:                         schemas.CategoryNonInteractive,
		`"Type":"AADServicePrincipalSignInLogs"`:                           schemas.CategoryServicePrincipal,
		`"Type":"AADManagedIdentitySignInLogs"`:                            schemas.CategoryManagedIdentity,
		`"Type":"MicrosoftServicePrincipalSignInLogs"`:                     "MicrosoftServicePrincipalSignInLogs",
		`"Type":"ADFSSignInLogs"`:                                          "ADFSSignInLogs",
		`"Category":"noninteractiveusersigninlogs"`:                        schemas.CategoryNonInteractive,
		`"Category":"SignInLogs","Type":"AADManagedIdentitySignInLogs"`:    schemas.CategoryInteractive,
		`"Category":"SomethingElse"`:                                       "SomethingElse",
		`"signInEventTypes":["managedIdentity"]`:                           schemas.CategoryManagedIdentity,
		`"signInEventTypes":["nonInteractiveUser"],"isInteractive":true`:   schemas.CategoryNonInteractive,
		`"managedServiceIdentity":{"msiType":"userAssigned"}`:              schemas.CategoryManagedIdentity,
		`"managedServiceIdentity":{"msiType":"none"},"isInteractive":true`: schemas.CategoryInteractive,
		`"isInteractive":false`:                                            schemas.CategoryNonInteractive,
	}
	for fields, want := range cases {
		if si := mustOne(t, fmt.Sprintf(row, fields)); si.Category != want {
			t.Errorf("%s: category %q, want %q", fields, si.Category, want)
		}
	}
	if si := mustOne(t, `{"id":"a","createdDateTime":"2025-03-04T09:12:31Z","servicePrincipalId":"SP"}`); si.Category != schemas.CategoryServicePrincipal {
		t.Errorf("service principal without user: %q", si.Category)
	}
}

func TestDuplicateKeysLastWins(t *testing.T) {
	si := mustOne(t, `{"id":"first","id":"a","createdDateTime":"bad","createdDateTime":"2025-03-04T09:12:31Z","userId":"u",
	  "status":{"errorCode":1,"failureReason":"r"},"status":{"errorCode":2},
	  "signInEventTypes":["a","b"],"signInEventTypes":["c"],
	  "appliedConditionalAccessPolicies":[{"id":"p1"},{"id":"p2"}],"appliedConditionalAccessPolicies":[{"id":"p3"}],
	  "location":{"city":"X","geoCoordinates":{"latitude":1}},"location":{"state":"Y","geoCoordinates":{"longitude":2}}}`)
	if si.ID != "a" || si.Status.ErrorCode != 2 || si.Status.FailureReason != "r" ||
		len(si.SignInEventTypes) != 1 || len(si.AppliedConditionalAccessPolicies) != 1 || si.AppliedConditionalAccessPolicies[0].ID != "p3" ||
		si.Location.City != "X" || si.Location.State != "Y" || si.Location.GeoCoordinates.Latitude != 1 || si.Location.GeoCoordinates.Longitude != 2 {
		t.Errorf("scalars: last wins; objects merge (as encoding/json); arrays: the last replaces: %+v", si)
	}
	if _, err := one(t, `{"id":"a","createdDateTime":"2025-03-04T09:12:31Z","createdDateTime":"bad","userId":"u"}`); ReasonOf(err) != ReasonInvalidJSON {
		t.Errorf("a bad last createdDateTime: %v", err)
	}
	got, err := DecodeSignIns([]byte(`{"records":[{"properties":{"id":"x"}}],"records":[` + recordJSON("b") + `,` + recordJSON("c") + `]}`))
	if err != nil || len(got) != 2 || got[0].SignIn.ID != "b" || got[1].SignIn.ID != "c" {
		t.Errorf("repeated records array: %+v %v", got, err)
	}
}

func recordJSON(id string) string {
	return `{"time":"2025-03-04T09:10:02Z","category":"SignInLogs","properties":{"id":"` + id + `","userId":"u"}}`
}

func TestNullAnywhere(t *testing.T) {
	data, err := os.ReadFile("testdata/shapes/graph_beta_list.json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Value []map[string]json.RawMessage }
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	base := list.Value[1]
	for key := range base {
		rec := map[string]json.RawMessage{}
		for k, v := range base {
			rec[k] = v
		}
		rec[key] = json.RawMessage("null")
		msg, _ := json.Marshal(rec)
		si, err := one(t, string(msg))
		switch key {
		case "id":
			if ReasonOf(err) != ReasonMissingID {
				t.Errorf("id null: %v", err)
			}
		case "createdDateTime":
			if ReasonOf(err) != ReasonMissingTime {
				t.Errorf("createdDateTime null: %v", err)
			}
		default:
			if err != nil {
				t.Errorf("%s null: %v", key, err)
			}
		}
		_ = si
	}
	// Nulls inside nested objects and arrays.
	si := mustOne(t, `{"id":"a","createdDateTime":"2025-03-04T09:12:31Z","userId":"u","userPrincipalName":null,
	  "status":{"errorCode":null,"failureReason":null},"location":{"geoCoordinates":null},"deviceDetail":null,
	  "appliedConditionalAccessPolicies":[null,{"id":null,"enforcedGrantControls":null,"includeRulesSatisfied":[null],"authenticationStrength":null}],
	  "signInEventTypes":[null,"interactiveUser"],"authenticationDetails":null,"managedServiceIdentity":null}`)
	if len(si.AppliedConditionalAccessPolicies) != 2 || len(si.AppliedConditionalAccessPolicies[1].IncludeRulesSatisfied) != 1 ||
		si.ManagedServiceIdentity != nil || si.Location.GeoCoordinates != nil || si.SignInEventTypes[1] != "interactiveUser" {
		t.Errorf("%+v", si)
	}
}

func TestKeysInAnyCaseAndEscaped(t *testing.T) {
	si := mustOne(t, `{"ID":"a","CREATEDDATETIME":"2025-03-04T09:12:31Z","\u0075serId":"u","Status":{"ERRORCODE":50126},
	  "ipaddress":"192.0.2.1","riskeventtypes_v2":["unlikelyTravel"]}`)
	if si.ID != "a" || si.UserID != "u" || si.Status.ErrorCode != 50126 || si.IPAddress != "192.0.2.1" || si.RiskEventTypesV2[0] != "unlikelyTravel" {
		t.Errorf("%+v", si)
	}
	// Log Analytics: TenantId is the workspace, AADTenantId the tenant;
	// ResourceId the log's path, ResourceIdentity the resource app.
	si = mustOne(t, `{"Id":"a","CreatedDateTime":"2025-03-04T09:12:31Z","UserId":"u","TenantId":"workspace","AADTenantId":"tenant",
	  "ResourceId":"/tenants/t/providers/Microsoft.aadiam","ResourceIdentity":"00000003-0000-0000-c000-000000000000","Location":"BE"}`)
	if si.TenantID != "tenant" || si.ResourceID != "00000003-0000-0000-c000-000000000000" || si.Location.CountryOrRegion != "BE" {
		t.Errorf("%+v", si)
	}
}

func TestJSONInStrings(t *testing.T) {
	si := mustOne(t, `{"Id":"a","CreatedDateTime":"2025-03-04T09:12:31Z","UserId":"u",
	  "Status":"{\"errorCode\":50126}",
	  "DeviceDetail":" {\"operatingSystem\":\"Windows 10\"} ",
	  "ConditionalAccessPolicies":"[{\"id\":\"p\",\"includeRulesSatisfied\":[\"{\\\"conditionalAccessCondition\\\":\\\"users\\\",\\\"ruleSatisfied\\\":\\\"allUsers\\\"}\"]}]",
	  "AuthenticationMethodsUsed":"Password, SMS",
	  "RiskEventTypes_V2":"[\"unfamiliarFeatures\"]",
	  "MfaDetail":"{\"authMethod\":\"PhoneAppNotification\"}"}`)
	if si.Status.ErrorCode != 50126 || si.DeviceDetail.OperatingSystem != "Windows 10" ||
		si.AppliedConditionalAccessPolicies[0].IncludeRulesSatisfied[0].RuleSatisfied != "allUsers" ||
		strings.Join(si.AuthenticationMethodsUsed, "|") != "Password|SMS" || si.RiskEventTypesV2[0] != "unfamiliarFeatures" {
		t.Errorf("%+v", si)
	}
	// Malformed JSON in a string rejects that record only.
	got, err := DecodeSignIns([]byte(`[{"Id":"a","CreatedDateTime":"2025-03-04T09:12:31Z","UserId":"u","Status":"{\"errorCode\":"},
	  {"Id":"b","CreatedDateTime":"2025-03-04T09:12:31Z","UserId":"u","Status":"not json"}]`))
	if err != nil || len(got) != 2 || ReasonOf(got[0].Err) != ReasonInvalidJSON || !strings.Contains(got[0].Err.Error(), "status") ||
		got[1].Err != nil {
		t.Errorf("%+v %v", got, err)
	}
}

func TestBatchesKeepGoodRecordsAndRawBytes(t *testing.T) {
	good := recordJSON("a")
	msg := ` {"records": [ ` + good + ` , 42, {"properties":{"id":"b","userId":"u"},"time":"never"}, {"foo":1},
	  {"category":"SignInLogs","properties":{"id":"c","userId":"u","createdDateTime":"2025-03-04T09:10:02Z","status":"{bad"}},
	  ` + good + ` ] } `
	got, err := DecodeSignIns([]byte(msg))
	if err != nil || len(got) != 6 {
		t.Fatalf("%d records, %v", len(got), err)
	}
	reasons := []string{}
	for _, d := range got {
		if d.Err == nil {
			reasons = append(reasons, "ok")
		} else {
			reasons = append(reasons, ReasonOf(d.Err))
		}
		if !json.Valid(d.Raw) {
			t.Errorf("raw %q is not the record's JSON", d.Raw)
		}
	}
	if want := "ok invalid_json invalid_json unknown_shape invalid_json ok"; strings.Join(reasons, " ") != want {
		t.Errorf("reasons %v, want %s", reasons, want)
	}
	if string(got[0].Raw) != good || string(got[1].Raw) != "42" || string(got[3].Raw) != `{"foo":1}` {
		t.Errorf("raw spans: %q %q %q", got[0].Raw, got[1].Raw, got[3].Raw)
	}
	// A single-record message's raw bytes are the message, trimmed.
	got, _ = DecodeSignIns([]byte("\n " + good + " \n"))
	if string(got[0].Raw) != good {
		t.Errorf("raw %q", got[0].Raw)
	}
	// Empty batches are not errors.
	for _, msg := range []string{`{"records":[]}`, `{"value":[]}`, `[]`} {
		if got, err := DecodeSignIns([]byte(msg)); err != nil || len(got) != 0 {
			t.Errorf("%s: %v %v", msg, got, err)
		}
	}
}

func TestMessageLevelRejections(t *testing.T) {
	for _, msg := range []string{"", "  ", "null", `"x"`, "42", "[1,2]", `["a"]`, `{"id":"a"} x`, `{"id":"a",}`,
		`{"records":[` + recordJSON("a") + `,]}`, `{"a":"\x01"}`, `{"a":"\u12"}`, strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		`{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":tru}`, `{"a" 1}`, `{1:2}`, "{\"a\":\"\\q\"}"} {
		got, err := DecodeSignIns([]byte(msg))
		if !errors.Is(err, ErrMalformed) || ReasonOf(err) != ReasonInvalidJSON || got != nil {
			t.Errorf("%.40q: %v %v, want invalid_json", msg, got, err)
		}
		if json.Valid([]byte(msg)) && (strings.HasPrefix(msg, "{") || strings.HasPrefix(msg, "[{")) {
			t.Errorf("%q is valid JSON", msg)
		}
	}
}

func TestUnicodeLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{`"plain"`, `"a\u00e9b"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00x"`, "\"bad\xffutf8\"",
		`"tab\there \/ \\ \" \b\f\n\r"`, "\"é – ✓\"", `"\u0000"`} {
		msg := `{"id":"a","createdDateTime":"2025-03-04T09:12:31Z","userId":"u","appDisplayName":` + s + `}`
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		if si := mustOne(t, msg); si.AppDisplayName != want {
			t.Errorf("%s: %q, want %q", s, si.AppDisplayName, want)
		}
	}
}

func TestDecodeFlagCorners(t *testing.T) {
	f, err := DecodeFlag([]byte(`{"correlationId":"c","userId":"U1","flaggedAt":"11/14/2025 1:48:53 AM","flaggedBy":"helpdesk:servicenow","reason":"cannot sign in"}`))
	if err != nil || f.UserKey() != "u1" || !f.FlaggedAt.Equal(mustTime(t, "2025-11-14T01:48:53Z")) || f.FlaggedBy != "helpdesk:servicenow" {
		t.Errorf("%+v %v", f, err)
	}
	for msg, reason := range map[string]string{
		`{"requestId":"r","userId":"u","flaggedAt":"soon"}`:                ReasonInvalidJSON,
		`{"requestId":"r","userId":"u","flaggedAt":"2025-03-04T09:15:00Z"`: ReasonInvalidJSON,
		`[]`:   ReasonInvalidJSON,
		`null`: ReasonInvalidJSON,
		``:     ReasonInvalidJSON,
		`{"requestId":"r","flaggedAt":"2025-03-04T09:15:00Z"}`: ReasonMissingUser,
		`{"userId":"u","flaggedAt":"2025-03-04T09:15:00Z"}`:    ReasonMissingID,
		`{"requestId":"r","userId":"u"}`:                       ReasonMissingTime,
	} {
		if _, err := DecodeFlag([]byte(msg)); ReasonOf(err) != reason {
			t.Errorf("%s: %v, want %s", msg, err, reason)
		}
	}
}

func TestDecodedStringsDoNotAliasTheInput(t *testing.T) {
	msg := []byte(`{"id":"abc","createdDateTime":"2025-03-04T09:12:31Z","userId":"u","appDisplayName":"Azure Portal"}`)
	si := mustOne(t, string(msg))
	got, _ := DecodeSignIns(msg)
	for i := range msg {
		msg[i] = 'x'
	}
	if got[0].SignIn.ID != "abc" || got[0].SignIn.AppDisplayName != "Azure Portal" || si.ID != "abc" {
		t.Errorf("strings changed with the input buffer: %+v", got[0].SignIn)
	}
	// Appending to a decoded slice must not reach another's elements.
	two, _ := DecodeSignIns([]byte(`{"id":"a","createdDateTime":"2025-03-04T09:12:31Z","userId":"u","signInEventTypes":["x"],"riskEventTypes":["y"]}`))
	s := two[0].SignIn
	_ = append(s.SignInEventTypes, "z")
	if s.RiskEventTypes[0] != "y" {
		t.Errorf("slices share capacity")
	}
	if !bytes.Equal([]byte(s.SignInEventTypes[0]), []byte("x")) {
		t.Errorf("%v", s.SignInEventTypes)
	}
}

// Decoders are pooled and their arenas reused: sign-ins kept from earlier
// messages must stay intact while other goroutines decode.
func TestConcurrentDecodingKeepsResultsIntact(t *testing.T) {
	data, err := os.ReadFile("testdata/shapes/graph_beta_list.json")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := DecodeSignIns(data)
	want, _ := json.Marshal(first[1].SignIn)
	results := make(chan *schemas.SignIn, 8*200)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				got, err := DecodeSignIns(data)
				if err != nil || len(got) != 2 {
					t.Error(err)
					return
				}
				results <- got[1].SignIn
			}
		}()
	}
	wg.Wait()
	close(results)
	for si := range results {
		if got, _ := json.Marshal(si); !bytes.Equal(got, want) {
			t.Fatalf("a kept sign-in changed:\n%s\nwant\n%s", got, want)
		}
	}
}

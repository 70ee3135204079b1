package entra

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// Fixtures: testdata/entra holds the public MIT and Apache-2.0 sign-in
// files unchanged (see its SOURCES.md); testdata/shapes holds our own
// samples of the shapes whose public samples we may not copy (the Graph
// docs example, whose licence we could not verify, and the Elastic-licensed
// samples): tests read nothing outside the repository.

// fileResult is what decoding a fixture gave.
type fileResult struct {
	signIns []*schemas.SignIn
	reasons map[string]int // rejected records by reason
}

func (r fileResult) codes() map[int]int {
	m := map[int]int{}
	for _, si := range r.signIns {
		if si.Status.ErrorCode != 0 {
			m[si.Status.ErrorCode]++
		}
	}
	return m
}

func (r fileResult) distinct(f func(*schemas.SignIn) string) int {
	m := map[string]bool{}
	for _, si := range r.signIns {
		m[f(si)] = true
	}
	return len(m)
}

func (r fileResult) byID(id string) []*schemas.SignIn {
	var out []*schemas.SignIn
	for _, si := range r.signIns {
		if si.ID == id {
			out = append(out, si)
		}
	}
	return out
}

// decodeMessages decodes each message and checks the invariants every
// decoded record must hold.
func decodeMessages(t *testing.T, msgs [][]byte) fileResult {
	t.Helper()
	res := fileResult{reasons: map[string]int{}}
	for i, msg := range msgs {
		got, err := DecodeSignIns(msg)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		for _, d := range got {
			if d.Err != nil {
				res.reasons[ReasonOf(d.Err)]++
				if len(d.Raw) == 0 {
					t.Errorf("message %d: rejected record without raw bytes", i)
				}
				continue
			}
			checkInvariants(t, d.SignIn)
			res.signIns = append(res.signIns, d.SignIn)
		}
	}
	return res
}

// checkInvariants holds for every decoded sign-in.
func checkInvariants(t testing.TB, si *schemas.SignIn) {
	t.Helper()
	if si.ID == "" || si.CreatedDateTime.IsZero() || si.UserKey() == "" || si.Category == "" {
		t.Fatalf("decoded sign-in lacks a required field: %+v", si)
	}
	if si.CreatedDateTime.Location() != time.UTC || si.CreatedDateTime.Nanosecond()%int(time.Millisecond) != 0 {
		t.Fatalf("createdDateTime %v is not UTC milliseconds", si.CreatedDateTime)
	}
	if _, err := json.Marshal(si); err != nil {
		t.Fatalf("decoded sign-in does not marshal: %v", err)
	}
}

func lines(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, bytes.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func file(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// csvRows turns a portal CSV export of a Log Analytics table into one JSON
// object per row, with the columns in file order and every cell a string,
// as a Log Analytics row would be sent.
func csvRows(t *testing.T, path string) [][]byte {
	t.Helper()
	data := bytes.TrimPrefix(file(t, path), []byte("\ufeff"))
	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := records[0]
	var out [][]byte
	for _, rec := range records[1:] {
		var b bytes.Buffer
		b.WriteByte('{')
		for i, col := range header {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(col)
			v, _ := json.Marshal(rec[i])
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
		out = append(out, b.Bytes())
	}
	return out
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func wantCodes(t *testing.T, got, want map[int]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("error codes = %v, want %v", got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("error codes = %v, want %v", got, want)
			return
		}
	}
}

func timeRange(r fileResult) (first, last time.Time) {
	for i, si := range r.signIns {
		if i == 0 || si.CreatedDateTime.Before(first) {
			first = si.CreatedDateTime
		}
		if i == 0 || si.CreatedDateTime.After(last) {
			last = si.CreatedDateTime
		}
	}
	return first, last
}

func TestFixtureAADSignInRandom(t *testing.T) {
	msgs := lines(t, "../../testdata/entra/aad_signin_random.json")
	r := decodeMessages(t, msgs)
	if len(r.signIns) != 300 || len(r.reasons) != 0 {
		t.Fatalf("decoded %d, rejected %v; want 300 and none", len(r.signIns), r.reasons)
	}
	wantCodes(t, r.codes(), map[int]int{50058: 3, 50074: 3, 50155: 2, 50097: 1, 50053: 1})
	if n := r.distinct(func(si *schemas.SignIn) string { return si.ID }); n != 298 {
		t.Errorf("%d distinct ids, want 298 (two MFA interrupts re-emitted as successes)", n)
	}
	if n := r.distinct((*schemas.SignIn).UserKey); n != 202 {
		t.Errorf("%d distinct users, want 202", n)
	}
	first, last := timeRange(r)
	if !first.Equal(mustTime(t, "2020-07-30T18:26:02Z")) || !last.Equal(mustTime(t, "2020-07-30T18:40:57Z")) {
		t.Errorf("time range %v – %v", first, last)
	}
	ca, policies, withSteps := 0, 0, 0
	for _, si := range r.signIns {
		if si.Category != schemas.CategoryInteractive {
			t.Fatalf("category %q, want SignInLogs (Category column)", si.Category)
		}
		if si.ConditionalAccessStatus == "failure" {
			ca++
		}
		policies += len(si.AppliedConditionalAccessPolicies)
		if len(si.AuthenticationDetails) > 0 {
			withSteps++
		}
	}
	if ca != 13 || policies != 16124 || withSteps != 54 {
		t.Errorf("CA failures %d (want 13), policies %d (want 16124), with authentication steps %d (want 54)", ca, policies, withSteps)
	}
	lock := r.byID("ec6e563e-031a-4841-9494-4a1e625a3960")
	if len(lock) != 1 || lock[0].Status.ErrorCode != 50053 || lock[0].ClientAppUsed != "IMAP4" ||
		lock[0].AppDisplayName != "Office 365 Exchange Online" || !lock[0].CreatedDateTime.Equal(mustTime(t, "2020-07-30T18:39:17Z")) {
		t.Errorf("lockout over IMAP4: %+v", lock)
	}
	mfa := r.byID("ac5817ff-89c9-473a-9055-9af94a7e4505")
	if len(mfa) != 2 || mfa[0].Status.ErrorCode != 50074 || mfa[1].Status.ErrorCode != 0 ||
		mfa[0].Status.AdditionalDetails != "MFA required in Azure AD" || !mfa[1].IsInteractive {
		t.Errorf("MFA interrupt then success under one id: %+v", mfa)
	}
	// AuthenticationDetails is a JSON string with CRLF line breaks.
	steps := r.byID("479c96e1-11e0-40cf-a47d-e1bed62c3121")[0].AuthenticationDetails
	if len(steps) != 1 || steps[0].AuthenticationMethod != "Text message" || !steps[0].Succeeded ||
		!steps[0].AuthenticationStepDateTime.Equal(mustTime(t, "2020-07-30T18:29:16.722Z")) {
		t.Errorf("authentication steps from a JSON string: %+v", steps)
	}

	// The same rows as one message: a JSON array, and {"value": […]}.
	array := append(append([]byte("["), bytes.Join(msgs, []byte(","))...), ']')
	for name, msg := range map[string][]byte{
		"array": array,
		"value": append(append([]byte(`{"value":`), array...), '}'),
	} {
		got, err := DecodeSignIns(msg)
		if err != nil || len(got) != 300 {
			t.Fatalf("%s: %d records, %v", name, len(got), err)
		}
		for i, d := range got {
			if d.Err != nil || d.SignIn.ID != r.signIns[i].ID || !bytes.Equal(d.Raw, msgs[i]) {
				t.Fatalf("%s: record %d = %v %v, raw %.60s", name, i, d.SignIn, d.Err, d.Raw)
			}
		}
	}
}

func TestFixtureAADSignInUser(t *testing.T) {
	r := decodeMessages(t, lines(t, "../../testdata/entra/aad_signin_user.json"))
	if len(r.signIns) != 31 || len(r.reasons) != 0 {
		t.Fatalf("decoded %d, rejected %v; want 31 and none", len(r.signIns), r.reasons)
	}
	wantCodes(t, r.codes(), map[int]int{})
	if n := r.distinct((*schemas.SignIn).UserKey); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
	first, last := timeRange(r)
	if !first.Equal(mustTime(t, "2020-07-28T12:27:20Z")) || !last.Equal(mustTime(t, "2020-07-29T15:54:23Z")) {
		t.Errorf("time range %v – %v", first, last)
	}
}

func TestFixtureAADLogons(t *testing.T) {
	r := decodeMessages(t, lines(t, "../../testdata/entra/aad_logons.json"))
	if len(r.signIns) != 86 || len(r.reasons) != 0 {
		t.Fatalf("decoded %d, rejected %v; want 86 and none", len(r.signIns), r.reasons)
	}
	if n := r.distinct(func(si *schemas.SignIn) string { return si.ID }); n != 45 {
		t.Errorf("%d distinct ids, want 45", n)
	}
	wantCodes(t, r.codes(), map[int]int{90072: 2})
	if n := r.distinct((*schemas.SignIn).UserKey); n != 6 {
		t.Errorf("%d users, want 6", n)
	}
	first, last := timeRange(r)
	if !first.Equal(mustTime(t, "2020-05-20T07:06:01Z")) || !last.Equal(mustTime(t, "2020-05-20T19:51:40Z")) {
		t.Errorf("time range %v – %v", first, last)
	}
	si := r.signIns[0]
	if si.ID != "eeae5d3b-8132-43bf-8b24-d98f405a2900" || si.UserKey() != "bdb72692-2275-412b-8af0-ea21c2ebd174" ||
		si.Status.AdditionalDetails != "MFA requirement satisfied by claim in the token" {
		t.Errorf("first row: %+v", si)
	}
	// conditionsSatisfied is an integer bit set here: 3 = application|users.
	if p := si.AppliedConditionalAccessPolicies[0]; p.DisplayName != "Semolen - Admin MFA" || p.ConditionsSatisfied != "application,users" ||
		p.ConditionsNotSatisfied != "none" || p.Result != "success" || p.EnforcedGrantControls[0] != "Mfa" {
		t.Errorf("policy: %+v", p)
	}
	atlanta := r.byID("2a292f6a-7658-495a-92ea-b750ca502b00")
	if len(atlanta) != 2 || atlanta[0].Status.ErrorCode != 90072 || atlanta[0].Location.City != "Atlanta" ||
		atlanta[0].Location.CountryOrRegion != "US" || atlanta[0].IPAddress != "136.55.145.135" ||
		atlanta[0].Location.GeoCoordinates == nil || atlanta[0].Location.GeoCoordinates.Latitude < 33.79 {
		t.Errorf("meganb's failure from Atlanta: %+v", atlanta)
	}
}

func TestFixturePortalCSVExports(t *testing.T) {
	t.Run("sign-in_adelete", func(t *testing.T) {
		r := decodeMessages(t, csvRows(t, "../../testdata/entra/sign-in_adelete.csv"))
		if len(r.signIns) != 56 || len(r.reasons) != 0 {
			t.Fatalf("decoded %d, rejected %v; want 56 and none", len(r.signIns), r.reasons)
		}
		wantCodes(t, r.codes(), map[int]int{16000: 2, 50058: 1})
		first, last := timeRange(r)
		// "CreatedDateTime [UTC]" holds "4/28/2021, 2:08:45.221 PM".
		if !first.Equal(mustTime(t, "2021-04-28T14:08:45.221Z")) || !last.Equal(mustTime(t, "2021-04-28T15:19:08.373Z")) {
			t.Errorf("time range %v – %v", first, last)
		}
		for _, si := range r.signIns {
			if si.UserPrincipalName != "adelev@m365x816222.onmicrosoft.com" || si.IPAddress != "175.45.176.99" ||
				!si.IsInteractive || si.Category != schemas.CategoryInteractive || si.TenantID != "2ad3fc79-1859-42fa-9011-6f8df2251b22" {
				t.Fatalf("row: %+v", si)
			}
		}
		si := r.byID("cfb68155-70f5-4e28-b046-0a3a7086c401")[0]
		if si.Location.CountryOrRegion != "IL" || si.Location.City != "Azor" || si.DeviceDetail.Browser != "Edge 90.0.818" ||
			si.ProcessingTimeInMilliseconds != 3535 || si.ResourceID != "797f4846-ba00-4fd7-ba43-dac1f8f63013" ||
			len(si.AppliedConditionalAccessPolicies) != 1 || si.AppliedConditionalAccessPolicies[0].Result != "notEnabled" ||
			si.AppliedConditionalAccessPolicies[0].ConditionsSatisfied != "none" ||
			len(si.AuthenticationDetails) != 1 || si.AuthenticationDetails[0].AuthenticationMethod != "Previously satisfied" {
			t.Errorf("first row: %+v", si)
		}
	})
	t.Run("disable_accounts", func(t *testing.T) {
		// No time column at all: the lab stamps ingestion time.
		r := decodeMessages(t, csvRows(t, "../../testdata/entra/disable_accounts.csv"))
		if len(r.signIns) != 0 || r.reasons[ReasonMissingTime] != 4 {
			t.Fatalf("decoded %d, rejected %v; want 4 × missing_time", len(r.signIns), r.reasons)
		}
		// With a time added, the rows decode: four 50057 from one IP.
		var msgs [][]byte
		for _, row := range csvRows(t, "../../testdata/entra/disable_accounts.csv") {
			msgs = append(msgs, append([]byte(`{"TimeGenerated":"2021-04-19T12:13:19.483Z",`), row[1:]...))
		}
		r = decodeMessages(t, msgs)
		wantCodes(t, r.codes(), map[int]int{50057: 4})
		if len(r.signIns) != 4 || r.signIns[0].IPAddress != "175.45.176.99" || r.signIns[0].Location.CountryOrRegion != "KP" {
			t.Errorf("rows: %+v", r.signIns)
		}
	})
	t.Run("signinLogs", func(t *testing.T) {
		// Rule output, not sign-ins: no Id.
		r := decodeMessages(t, csvRows(t, "../../testdata/entra/signinLogs.csv"))
		if len(r.signIns) != 0 || r.reasons[ReasonMissingID] != 1 {
			t.Fatalf("decoded %d, rejected %v; want 1 × missing_id", len(r.signIns), r.reasons)
		}
	})
}

func TestFixturePantherEventHubsRecords(t *testing.T) {
	var msgs [][]byte
	for _, line := range lines(t, "../../testdata/entra/panther_azure_signin_rule_tests.jsonl") {
		var test struct{ Log json.RawMessage }
		if err := json.Unmarshal(line, &test); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, test.Log)
	}
	if len(msgs) != 26 {
		t.Fatalf("%d logs, want 26", len(msgs))
	}
	r := decodeMessages(t, msgs)
	// Most of Panther's hand-written logs carry no properties.id.
	if len(r.signIns) != 10 || r.reasons[ReasonMissingID] != 16 {
		t.Fatalf("decoded %d, rejected %v; want 10 and 16 × missing_id", len(r.signIns), r.reasons)
	}
	wantCodes(t, r.codes(), map[int]int{7000215: 7})
	si := r.byID("36658c78-02d9-4d8f-84ee-5ca4a3fdefef")[0]
	// Lower-cased envelope keys, "2023-07-26 22:58:30.983201900" (space,
	// 9 digits, no zone).
	if si.Category != schemas.CategoryServicePrincipal || si.UserKey() != "sp:b1c34143-e405-4058-8e29-84596ad737b8" ||
		!si.CreatedDateTime.Equal(mustTime(t, "2023-07-26T22:58:30.983Z")) {
		t.Errorf("service principal record: %+v", si)
	}
	legacy := r.byID("d9ae0e20-c959-42a3-ba74-00f59ac9f6c6")
	if len(legacy) != 2 || legacy[0].Category != schemas.CategoryInteractive || legacy[0].UserAgent != "BAV2ROPC" {
		t.Errorf("legacy auth records: %+v", legacy)
	}
}

// Our own fixtures of the shapes above.

func TestShapeEventHubsAllCategories(t *testing.T) {
	r := decodeMessages(t, [][]byte{file(t, "testdata/shapes/eventhubs_all_categories.json")})
	if len(r.signIns) != 5 || len(r.reasons) != 0 {
		t.Fatalf("decoded %d, rejected %v", len(r.signIns), r.reasons)
	}
	want := []struct {
		category, user string
		code           int
		at             string
	}{
		{schemas.CategoryInteractive, "0a1b2c3d-0000-4000-8000-000000000001", 50126, "2025-03-04T09:10:02.123Z"},
		{schemas.CategoryNonInteractive, "0a1b2c3d-0000-4000-8000-000000000002", 50140, "2025-03-04T10:00:14.5Z"},
		{schemas.CategoryServicePrincipal, "sp:33333333-aaaa-4bbb-8ccc-000000000033", 7000222, "2025-03-04T11:30:00Z"},
		{schemas.CategoryManagedIdentity, "sp:66666666-aaaa-4bbb-8ccc-000000000066", 0, "2025-03-04T12:00:05Z"},
		{"MicrosoftServicePrincipalSignInLogs", "sp:77777777-aaaa-4bbb-8ccc-000000000077", 0, "2025-11-14T01:48:53Z"},
	}
	for i, w := range want {
		si := r.signIns[i]
		if si.Category != w.category || si.UserKey() != w.user || si.Status.ErrorCode != w.code || !si.CreatedDateTime.Equal(mustTime(t, w.at)) {
			t.Errorf("record %d: category %s user %s code %d at %v; want %+v", i, si.Category, si.UserKey(), si.Status.ErrorCode, si.CreatedDateTime, w)
		}
	}
	a := r.signIns[0]
	if a.UserType != "member" || a.ConditionalAccessStatus != "notApplied" || a.AuthenticationRequirement != "singleFactorAuthentication" ||
		a.RiskLevelDuringSignIn != "none" || a.AutonomousSystemNumber != 3215 || a.CorrelationID != "c1000001-0000-4000-8000-000000000001" ||
		a.TenantID != "11111111-2222-3333-4444-555555555555" || a.ResourceID != "" {
		t.Errorf("interactive record: %+v", a)
	}
	// status without errorCode: resultType "50140" gives it.
	if n := r.signIns[1]; n.Status.AdditionalDetails != "MFA required" || n.IncomingTokenType != "refreshToken" {
		t.Errorf("non-interactive record: %+v", n)
	}
	if sp := r.signIns[2]; sp.ClientCredentialType != "clientSecret" || sp.ResourceID != "00000003-0000-0000-c000-000000000000" {
		t.Errorf("service principal record: %+v", sp)
	}
	if mi := r.signIns[3]; mi.ManagedServiceIdentity == nil || mi.ManagedServiceIdentity.MsiType != "systemAssigned" || mi.IPAddress != "" {
		t.Errorf("managed identity record: %+v", mi)
	}
}

func TestShapeEventHubsTwelvePolicies(t *testing.T) {
	r := decodeMessages(t, [][]byte{file(t, "testdata/shapes/eventhubs_noninteractive_policies.json")})
	if len(r.signIns) != 1 {
		t.Fatalf("decoded %d, rejected %v", len(r.signIns), r.reasons)
	}
	si := r.signIns[0]
	if si.Category != schemas.CategoryNonInteractive || si.UserDisplayName != "Ben Okafor" || !si.DeviceDetail.IsCompliant ||
		!si.DeviceDetail.IsManaged || si.DeviceDetail.TrustType != "Azure AD joined" ||
		si.Status.AdditionalDetails != "MFA requirement satisfied by claim in the token" {
		t.Errorf("sign-in: %+v", si)
	}
	want := []struct{ result, sat, notSat string }{
		{"success", "application,users,clientType", "none"},
		{"notApplied", "application,users", "clientType"},
		{"notApplied", "application,users", "location"},
		{"notApplied", "application", "users"},
		{"success", "application,users,devicePlatform", "none"},
		{"notApplied", "application,users", "devicePlatform"},
		{"reportOnlyNotApplied", "application,users", "signInRisk"},
		{"reportOnlyNotApplied", "application,users", "userRisk"},
		{"reportOnlyFailure", "application,users", "none"},
		{"reportOnlySuccess", "application,users", "none"},
		{"notEnabled", "none", "none"},
		{"notApplied", "servicePrincipals", "ipAddressSeenByAzureAD"},
	}
	if len(si.AppliedConditionalAccessPolicies) != len(want) {
		t.Fatalf("%d policies", len(si.AppliedConditionalAccessPolicies))
	}
	for i, w := range want {
		p := si.AppliedConditionalAccessPolicies[i]
		if p.Result != w.result || p.ConditionsSatisfied != w.sat || p.ConditionsNotSatisfied != w.notSat {
			t.Errorf("policy %d %q: %s %s / %s, want %+v", i, p.DisplayName, p.Result, p.ConditionsSatisfied, p.ConditionsNotSatisfied, w)
		}
	}
	if n := si.AppliedConditionalAccessPolicies[2].DisplayName; n != `Block sign-ins from outside EU \u0026 EFTA` {
		t.Errorf("double-escaped name %q", n)
	}
	if n := si.AppliedConditionalAccessPolicies[4].DisplayName; n != "Require compliant device – Windows" {
		t.Errorf("name with an en dash %q", n)
	}
	if s := si.AppliedConditionalAccessPolicies[8].AuthenticationStrength; s == nil || s.AuthenticationStrengthResult != "cannotSatisfy" {
		t.Errorf("authentication strength %+v", s)
	}
}

func TestShapeGraphBetaList(t *testing.T) {
	data := file(t, "testdata/shapes/graph_beta_list.json")
	r := decodeMessages(t, [][]byte{data})
	if len(r.signIns) != 2 {
		t.Fatalf("decoded %d, rejected %v", len(r.signIns), r.reasons)
	}
	a, b := r.signIns[0], r.signIns[1]
	// Duplicate keys, last one wins: homeTenantId, isTenantRestricted,
	// uniqueTokenIdentifier.
	if a.HomeTenantID != "88888888-0000-4000-8000-000000000002" || a.IsTenantRestricted ||
		a.UniqueTokenID != "ZzEwMDAwMDEtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAy" {
		t.Errorf("duplicate keys: %+v", a)
	}
	if a.IncomingTokenType != "primaryRefreshToken" || a.AuthenticationProtocol != "oAuth2" || a.UserType != "member" ||
		a.SignInIdentifierType != "userPrincipalName" || a.NetworkLocationDetails[0].NetworkType != "namedNetwork" ||
		a.Location.GeoCoordinates == nil || a.AutonomousSystemNumber != 8075 || a.Status.ErrorCode != 50126 ||
		a.Category != schemas.CategoryInteractive || !strings.Contains(a.Status.AdditionalDetails, "\u00a0It's") {
		t.Errorf("first: %+v", a)
	}
	p := b.AppliedConditionalAccessPolicies[0]
	if b.UserType != "guest" || b.CrossTenantAccessType != "b2bCollaboration" || !b.FlaggedForReview || p.Result != "failure" ||
		p.ConditionsSatisfied != "application,users" || p.IncludeRulesSatisfied[0].RuleSatisfied != "b2bCollaborationGuest" ||
		p.AuthenticationStrength != nil || b.Location.GeoCoordinates.Altitude != nil {
		t.Errorf("second: %+v %+v", b, p)
	}
	assertMatchesEncodingJSON(t, data)
}

func TestShapeGraphV1(t *testing.T) {
	data := file(t, "testdata/shapes/graph_v1_signin.json")
	r := decodeMessages(t, [][]byte{data})
	if len(r.signIns) != 1 || r.signIns[0].Status.ErrorCode != 50074 || r.signIns[0].Category != schemas.CategoryInteractive {
		t.Fatalf("decoded %+v, rejected %v", r.signIns, r.reasons)
	}
	assertMatchesEncodingJSON(t, data)
}

func TestShapeLogAnalyticsRows(t *testing.T) {
	data := file(t, "testdata/shapes/loganalytics_rows.json")
	r := decodeMessages(t, [][]byte{data})
	if len(r.signIns) != 3 {
		t.Fatalf("decoded %d, rejected %v", len(r.signIns), r.reasons)
	}
	a := r.signIns[0]
	if a.Category != schemas.CategoryNonInteractive || a.Status.ErrorCode != 50173 || a.AutonomousSystemNumber != 8075 ||
		a.ProcessingTimeInMilliseconds != 35 || a.IsInteractive || a.FlaggedForReview || a.TenantID != "11111111-2222-3333-4444-555555555555" ||
		a.ResourceID != "00000003-0000-0000-c000-000000000000" || a.Location.City != "Brno" ||
		a.Location.GeoCoordinates == nil || a.Location.GeoCoordinates.Latitude != 49.19 ||
		a.DeviceDetail.Browser != "Rich Client 16.0.17328" || len(a.AuthenticationProcessingDetails) != 1 ||
		a.NetworkLocationDetails[0].NetworkNames[0] != "Brno office" || a.AuthenticationMethodsUsed != nil ||
		!a.CreatedDateTime.Equal(mustTime(t, "2025-03-06T14:02:10.447Z")) {
		t.Errorf("non-interactive row: %+v", a)
	}
	p := a.AppliedConditionalAccessPolicies[0]
	if p.ConditionsSatisfied != "application,users" || p.ConditionsNotSatisfied != "location" ||
		len(p.IncludeRulesSatisfied) != 2 || p.IncludeRulesSatisfied[1].RuleSatisfied != "allUsers" ||
		p.ExcludeRulesSatisfied[0].ConditionalAccessCondition != "location" {
		t.Errorf("policy with rule objects as JSON strings: %+v", p)
	}
	sp := r.signIns[1]
	if sp.Category != schemas.CategoryServicePrincipal || sp.UserKey() != "sp:33333333-aaaa-4bbb-8ccc-000000000033" || sp.Status.ErrorCode != 7000215 {
		t.Errorf("service principal row: %+v", sp)
	}
	mi := r.signIns[2]
	if mi.Category != schemas.CategoryManagedIdentity || mi.ManagedServiceIdentity == nil || mi.ManagedServiceIdentity.MsiType != "userAssigned" ||
		!mi.CreatedDateTime.Equal(mustTime(t, "2025-03-06T14:06:30Z")) {
		t.Errorf("managed identity row (time from TimeGenerated): %+v", mi)
	}
}

func TestShapeTimeFormats(t *testing.T) {
	for i, line := range lines(t, "testdata/shapes/eventhubs_time_formats.jsonl") {
		var want struct{ ExpectedCreatedDateTime string }
		if err := json.Unmarshal(line, &want); err != nil {
			t.Fatal(err)
		}
		r := decodeMessages(t, [][]byte{line})
		if len(r.signIns) != 1 || !r.signIns[0].CreatedDateTime.Equal(mustTime(t, want.ExpectedCreatedDateTime)) {
			t.Errorf("line %d: %v (rejected %v), want %s", i+1, r.signIns, r.reasons, want.ExpectedCreatedDateTime)
		}
	}
}

// assertMatchesEncodingJSON checks that, on Graph input encoding/json can
// read, the decoder gives what encoding/json plus the same normalisation
// gives.
func assertMatchesEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	var list struct{ Value []json.RawMessage }
	msgs := []json.RawMessage{data}
	if json.Unmarshal(data, &list) == nil && list.Value != nil {
		msgs = list.Value
	}
	got, err := DecodeSignIns(data)
	if err != nil || len(got) != len(msgs) {
		t.Fatalf("decode: %d records, %v", len(got), err)
	}
	for i, raw := range msgs {
		want, err := decodeEncodingJSON(raw)
		if err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if d := diffSignIns(got[i].SignIn, want); d != "" {
			t.Errorf("record %d differs from encoding/json: %s", i, d)
		}
	}
}

// diffSignIns compares two sign-ins through their JSON; "" when equal.
func diffSignIns(a, b *schemas.SignIn) string {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if bytes.Equal(ja, jb) {
		return ""
	}
	var ma, mb map[string]any
	_ = json.Unmarshal(ja, &ma) // both were just marshalled
	_ = json.Unmarshal(jb, &mb)
	var diffs []string
	for k := range ma {
		x, _ := json.Marshal(ma[k])
		y, _ := json.Marshal(mb[k])
		if !bytes.Equal(x, y) {
			diffs = append(diffs, k+": "+string(x)+" vs "+string(y))
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			y, _ := json.Marshal(mb[k])
			diffs = append(diffs, k+": missing vs "+string(y))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

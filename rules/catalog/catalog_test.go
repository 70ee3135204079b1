package catalog

import (
	"strings"
	"sync"
	"testing"
)

// tableKinds is the kind of each of the 118 base codes, as listed in
// docs/error-codes.md "The codes by kind" (code 0 is checked separately). Copied by hand so that a
// row dropped or reclassified in errorcodes.json fails here.
var tableKinds = map[Kind][]int{
	KindFailure: {
		50126, 50053, 50055, 50056, 50064, 50144, 50135, 50057, 50034, 51004, 500341, 50020,
		16003, 50014, 500121, 50158, 53004, 53010, 53003, 53000, 53001, 53002, 530021, 530003,
		530032, 530035, 50005, 50131, 50129, 50155, 50187, 135011, 53011, 530034, 500212, 500213,
		500021, 50002, 90072, 90002, 50011, 50105, 700016, 70001, 7000112, 500011, 50001, 50003,
		50146, 501241, 65005, 650056, 650057, 75005, 750054, 75011, 75008, 75016, 76026, 7000215,
		7000222, 7000218, 700027, 70002, 65001, 65004, 90094, 650052, 70000, 50196, 80001, 80007,
		80010, 80012, 80013, 81001, 81004, 81006, 81007, 81010, 81011, 50180, 20001, 50008,
	},
	KindInterrupt: {50142, 50125, 50074, 50076, 50079, 50072, 50078, 50199, 70046, 50097, 90095, 50140, 50173},
	KindBenign:    {16000, 70043, 70044, 50058, 50132, 50133, 50089, 70008, 700082, 81012},
	KindService:   {50088, 50087, 50166, 90055, 90024, 50033, 50000, 90025, 80002, 80005, 80014},
}

// Codes added beyond the 118 base codes: the recognition rules of
// docs/scenarios.md name them, and 500022 means the same as 500021.
var addedCodes = []int{76021, 7500514, 80011, 81005, 81009, 500022}

func TestDefaultIsValid(t *testing.T) {
	c, err := Parse(embedded)
	if err != nil {
		t.Fatalf("embedded errorcodes.json: %v", err)
	}
	if got, least := c.Len(), 118+1; got < least {
		t.Errorf("Len() = %d, want at least %d (118 table codes plus 0)", got, least)
	}
	if a, b := Default(), Default(); a != b {
		t.Error("Default() should return the same shared catalogue")
	}
	if Default().Len() != c.Len() {
		t.Errorf("Default().Len() = %d, Parse(embedded).Len() = %d", Default().Len(), c.Len())
	}
}

func TestDefaultMatchesDocTable(t *testing.T) {
	c := Default()
	n := 0
	for kind, codes := range tableKinds {
		for _, code := range codes {
			n++
			e, ok := c.Lookup(code)
			if !ok {
				t.Errorf("code %d from the base table is missing", code)
				continue
			}
			if e.Kind != kind {
				t.Errorf("code %d: kind %q, the table says %q", code, e.Kind, kind)
			}
			if got, want := c.IsFailure(code), kind == KindFailure; got != want {
				t.Errorf("IsFailure(%d) = %v, want %v (kind %s)", code, got, want, kind)
			}
		}
	}
	if n != 118 {
		t.Fatalf("test table has %d codes, want 118", n)
	}
	for _, code := range addedCodes {
		e, ok := c.Lookup(code)
		if !ok {
			t.Errorf("added code %d is missing", code)
			continue
		}
		if e.Note == "" {
			t.Errorf("added code %d: note should say where it comes from", code)
		}
	}
	if want := 1 + 118 + len(addedCodes); c.Len() != want {
		t.Errorf("Len() = %d, want %d (0 + table + added); update the test when adding codes", c.Len(), want)
	}
}

func TestDefaultFacts(t *testing.T) {
	tests := []struct {
		code     int
		kind     Kind
		category string
		name     string // "" = not checked
		failure  bool
	}{
		{50126, KindFailure, "credentials", "InvalidUserNameOrPassword", true},
		{50053, KindFailure, "throttling/lockout", "IdsLocked", true},
		{53003, KindFailure, "conditional access", "BlockedByConditionalAccess", true},
		{500121, KindFailure, "MFA", "", true},
		{50057, KindFailure, "account state", "UserDisabled", true},
		{530035, KindFailure, "conditional access", "BlockedBySecurityDefaults", true},
		{75005, KindFailure, "app configuration (SP)", "Saml2MessageInvalid", true},
		{80012, KindFailure, "account state", "OnPremisePasswordValidationAccountLogonInvalidHours", true},
		{50074, KindInterrupt, "MFA", "UserStrongAuthClientAuthNRequiredInterrupt", false},
		{50076, KindInterrupt, "MFA", "UserStrongAuthClientAuthNRequired", false},
		{50140, KindInterrupt, "token/session", "KmsiInterrupt", false},
		{50125, KindInterrupt, "credentials", "PasswordResetRegistrationRequiredInterrupt", false},
		{90095, KindInterrupt, "consent", "AdminConsentRequiredRequestAccess", false},
		{70043, KindBenign, "token/session", "BadTokenDueToSignInFrequency", false},
		{70044, KindBenign, "token/session", "", false},
		{50058, KindBenign, "token/session", "UserInformationNotProvided", false},
		{81012, KindBenign, "other (SSO)", "DesktopSsoMismatchBetweenTokenUpnAndChosenUpn", false},
		{50088, KindService, "throttling/lockout", "", false},
		{90024, KindService, "throttling/lockout", "RequestBudgetExceededError", false},
		{80002, KindService, "other (PTA)", "OnPremisePasswordValidatorRequestTimedout", false},
		// not table rows
		{76021, KindFailure, "app configuration (SP)", "ApplicationRequiresSignedRequests", true},
		{7500514, KindFailure, "app configuration (SP)", "", true},
		{80011, KindFailure, "other (PTA)", "", true},
		{81005, KindFailure, "other (SSO)", "DesktopSsoAuthenticationPackageNotSupported", true},
		{81009, KindFailure, "other (SSO)", "DesktopSsoAuthorizationHeaderValueWithBadFormat", true},
		{500022, KindFailure, "tenant", "", true},
	}
	c := Default()
	for _, tt := range tests {
		e, ok := c.Lookup(tt.code)
		if !ok {
			t.Errorf("Lookup(%d): not found", tt.code)
			continue
		}
		if e.Code != tt.code || e.Kind != tt.kind || e.Category != tt.category {
			t.Errorf("Lookup(%d) = code %d kind %q category %q, want kind %q category %q",
				tt.code, e.Code, e.Kind, e.Category, tt.kind, tt.category)
		}
		if tt.name != "" && e.Name != tt.name {
			t.Errorf("Lookup(%d).Name = %q, want %q", tt.code, e.Name, tt.name)
		}
		if got := c.IsFailure(tt.code); got != tt.failure {
			t.Errorf("IsFailure(%d) = %v, want %v", tt.code, got, tt.failure)
		}
	}
}

func TestExampleEntryVerbatim(t *testing.T) {
	want := Code{
		Code: 50126, Name: "InvalidUserNameOrPassword", Meaning: "bad username or password (cloud or on-prem)",
		Category: "credentials", Kind: KindFailure,
		Remediation: "User retries/resets; if repetitive from one client, update its cached password",
	}
	if got, _ := Default().Lookup(50126); got != want {
		t.Errorf("Lookup(50126) =\n %+v\nwant\n %+v", got, want)
	}
}

func TestSuccessAndUnknown(t *testing.T) {
	c := Default()
	e, ok := c.Lookup(0)
	if !ok || e.Kind != KindSuccess || e.Category != "success" {
		t.Errorf("Lookup(0) = %+v, %v; want the success entry", e, ok)
	}
	if c.IsFailure(0) {
		t.Error("IsFailure(0) = true, want false")
	}
	if _, ok := c.Lookup(999999); ok {
		t.Error("Lookup(999999) found an entry")
	}
	if !c.IsFailure(999999) {
		t.Error("IsFailure(999999) = false; unknown codes count as failures")
	}
	// Even a catalogue without the success entry never counts 0 as a failure.
	empty, err := Parse([]byte(`[]`))
	if err != nil {
		t.Fatal(err)
	}
	if empty.IsFailure(0) || !empty.IsFailure(50140) || empty.Len() != 0 {
		t.Error("empty catalogue: want 0 not a failure, every other code a failure, Len 0")
	}
	var nilCat *Catalog
	if nilCat.IsFailure(0) || !nilCat.IsFailure(50126) || nilCat.Len() != 0 {
		t.Error("nil catalogue should behave as empty")
	}
}

func TestEveryEntryComplete(t *testing.T) {
	for _, e := range Default().All() {
		if e.Code == 0 {
			continue
		}
		if e.Name == "" || e.Meaning == "" || e.Category == "" || e.Remediation == "" {
			t.Errorf("code %d has an empty field: %+v", e.Code, e)
		}
		if strings.Contains(e.Name+e.Meaning+e.Remediation, "**") {
			t.Errorf("code %d keeps Markdown emphasis: %+v", e.Code, e)
		}
		if strings.Contains(e.Name, " — ") {
			t.Errorf("code %d: name %q was not split at \" — \"", e.Code, e.Name)
		}
	}
}

func TestAllSortedCopy(t *testing.T) {
	c := Default()
	all := c.All()
	if len(all) != c.Len() {
		t.Fatalf("len(All()) = %d, Len() = %d", len(all), c.Len())
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].Code >= all[i].Code {
			t.Fatalf("All() not sorted at %d: %d then %d", i, all[i-1].Code, all[i].Code)
		}
	}
	all[0].Name = "changed"
	if e, _ := c.Lookup(all[0].Code); e.Name == "changed" {
		t.Error("All() must return a copy")
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string // substrings of the error
	}{
		{"duplicate code",
			`[{"code":50126,"name":"A","kind":"F","remediation":"r"},{"code":50126,"name":"B","kind":"F","remediation":"r"}]`,
			[]string{"entry 1 (code 50126)", "duplicate", "entry 0"}},
		{"bad kind",
			`[{"code":50126,"name":"A","kind":"X","remediation":"r"}]`,
			[]string{"entry 0 (code 50126)", `kind "X"`}},
		{"lower-case kind",
			`[{"code":50140,"name":"A","kind":"i","remediation":"r"}]`,
			[]string{"entry 0 (code 50140)", "kind"}},
		{"empty kind on non-zero code",
			`[{"code":50126,"name":"A","remediation":"r"}]`,
			[]string{"entry 0 (code 50126)", "kind"}},
		{"empty name",
			`[{"code":0,"name":"Success","kind":""},{"code":50126,"name":"  ","kind":"F","remediation":"r"}]`,
			[]string{"entry 1 (code 50126)", "name is empty"}},
		{"empty remediation for F",
			`[{"code":53003,"name":"BlockedByConditionalAccess","kind":"F"}]`,
			[]string{"entry 0 (code 53003)", "remediation"}},
		{"empty remediation for S",
			`[{"code":50088,"name":"x","kind":"S","remediation":" "}]`,
			[]string{"entry 0 (code 50088)", "remediation"}},
		{"success with a kind",
			`[{"code":0,"name":"Success","kind":"F","remediation":"r"}]`,
			[]string{"entry 0 (code 0)", "code 0"}},
		{"negative code",
			`[{"code":-1,"name":"A","kind":"F","remediation":"r"}]`,
			[]string{"entry 0 (code -1)", "negative"}},
		{"missing code",
			`[{"name":"Orphan","kind":"F","remediation":"r"}]`,
			[]string{"entry 0", "missing", "Orphan"}},
		{"unknown field",
			`[{"code":50126,"name":"A","kind":"F","remediation":"r","remedation":"typo"}]`,
			[]string{"entry 0", "remedation"}},
		{"wrong type",
			`[{"code":"50126","name":"A","kind":"F","remediation":"r"}]`,
			[]string{"entry 0"}},
		{"not an array", `{"code":50126}`, []string{"array"}},
		{"empty input", ``, []string{"array"}},
		{"trailing data", `[] []`, []string{"after"}},
		{"truncated", `[{"code":50126,`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.input))
			if err == nil {
				t.Fatalf("Parse accepted %s (Len %d)", tt.input, c.Len())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseReportsEveryBadEntry(t *testing.T) {
	_, err := Parse([]byte(`[
		{"code":1,"name":"","kind":"F","remediation":"r"},
		{"code":2,"name":"ok","kind":"F","remediation":"r"},
		{"code":3,"name":"x","kind":"Q","remediation":"r"}]`))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, w := range []string{"entry 0 (code 1)", "entry 2 (code 3)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "code 2)") {
		t.Errorf("error %q blames a valid entry", err)
	}
}

func TestParseAccepts(t *testing.T) {
	c, err := Parse([]byte(` [
		{"code":0,"name":"Success","meaning":"","category":"success","kind":"","remediation":"","note":""},
		{"code":70008,"name":"ExpiredOrRevokedGrant","kind":"B"},
		{"code":50140,"name":"KmsiInterrupt","kind":"I","remediation":"None (expected)"}
	] `))
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 3 || c.IsFailure(70008) || c.IsFailure(50140) || c.IsFailure(0) {
		t.Errorf("unexpected catalogue: %+v", c.All())
	}
}

func TestMerge(t *testing.T) {
	base := Default()
	baseLen := base.Len()
	before, _ := base.Lookup(50126)

	over, err := Parse([]byte(`[
		{"code":50126,"name":"InvalidUserNameOrPassword","category":"credentials","kind":"B","note":"site override"},
		{"code":123456,"name":"NewCode","category":"other","kind":"I","remediation":"None"}]`))
	if err != nil {
		t.Fatal(err)
	}
	m := base.Merge(over)

	if e, _ := m.Lookup(50126); e.Kind != KindBenign || e.Note != "site override" {
		t.Errorf("merged 50126 = %+v, want the override", e)
	}
	if m.IsFailure(50126) {
		t.Error("merged IsFailure(50126) = true after overriding it to B")
	}
	if e, ok := m.Lookup(123456); !ok || e.Kind != KindInterrupt || m.IsFailure(123456) {
		t.Errorf("merged 123456 = %+v, %v; want the new interrupt entry", e, ok)
	}
	if e, _ := m.Lookup(53003); e.Kind != KindFailure {
		t.Errorf("merged 53003 = %+v, want the base entry kept", e)
	}
	if m.Len() != baseLen+1 {
		t.Errorf("merged Len() = %d, want %d", m.Len(), baseLen+1)
	}

	// Neither input changed.
	if after, _ := base.Lookup(50126); after != before || !base.IsFailure(50126) {
		t.Errorf("base 50126 changed to %+v", after)
	}
	if _, ok := base.Lookup(123456); ok || base.Len() != baseLen {
		t.Error("base gained the override's new code")
	}
	if _, ok := Default().Lookup(123456); ok {
		t.Error("Default() gained the override's new code")
	}
	if over.Len() != 2 {
		t.Errorf("overrides Len() = %d, want 2", over.Len())
	}

	if n := base.Merge(nil); n.Len() != baseLen || n == base {
		t.Errorf("Merge(nil): Len %d, same pointer %v; want a copy of base", n.Len(), n == base)
	}
}

func TestErrorPage(t *testing.T) {
	if got, want := ErrorPage(50126), "https://login.microsoftonline.com/error?code=50126"; got != want {
		t.Errorf("ErrorPage(50126) = %q, want %q", got, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := Default()
			for j := range 1000 {
				c.Lookup(50000 + j)
				c.IsFailure(50000 + i + j)
				_ = c.Len()
			}
		}()
	}
	wg.Wait()
}

package entra

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/signindiag/signindiag/schemas"
)

// The JSON Schemas in jsonschema/ describe what the project itself defines:
// the normalised sign-in, the flag event and the finding. These tests keep
// them in step with the Go types and check real output against them.

func compileSchema(t *testing.T, name string) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "jsonschema", name))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("%s: $schema %v, want draft 2020-12", name, raw["$schema"])
	}
	return sch, raw
}

func validateJSON(t *testing.T, sch *jsonschema.Schema, v any) error {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(inst)
}

// TestSchemasMatchGoTypes checks, for every struct reachable from SignIn,
// Flag and Finding, that the schema object lists exactly the struct's JSON
// names, and that every field the encoder always writes (no omitempty or
// omitzero) is required.
func TestSchemasMatchGoTypes(t *testing.T) {
	for name, typ := range map[string]reflect.Type{
		"signin.schema.json":  reflect.TypeFor[schemas.SignIn](),
		"flag.schema.json":    reflect.TypeFor[schemas.Flag](),
		"finding.schema.json": reflect.TypeFor[schemas.Finding](),
	} {
		_, root := compileSchema(t, name)
		checkSchemaType(t, name, root, root, typ)
	}
}

func checkSchemaType(t *testing.T, path string, root, node map[string]any, typ reflect.Type) {
	t.Helper()
	node = resolveRef(t, root, node)
	props, _ := node["properties"].(map[string]any)
	if props == nil {
		t.Errorf("%s: no properties for %s", path, typ)
		return
	}
	if node["additionalProperties"] != false {
		t.Errorf("%s: additionalProperties must be false", path)
	}
	required := map[string]bool{}
	for _, r := range asSlice(node["required"]) {
		required[r.(string)] = true
	}
	var goNames []string
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		goNames = append(goNames, name)
		sub, ok := props[name].(map[string]any)
		if !ok {
			continue
		}
		omitted := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		if !omitted && !required[name] {
			t.Errorf("%s.%s: always written, so it must be required", path, name)
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
			if s, ok := resolveRef(t, root, sub)["items"].(map[string]any); ok {
				sub = s
			}
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
			checkSchemaType(t, path+"."+name, root, sub, ft)
		}
	}
	var schemaNames []string
	for k := range props {
		schemaNames = append(schemaNames, k)
	}
	sort.Strings(goNames)
	sort.Strings(schemaNames)
	if !slices.Equal(goNames, schemaNames) {
		t.Errorf("%s: schema properties %v\n  Go JSON names %v", path, schemaNames, goNames)
	}
}

func resolveRef(t *testing.T, root, node map[string]any) map[string]any {
	ref, ok := node["$ref"].(string)
	if !ok {
		return node
	}
	name, found := strings.CutPrefix(ref, "#/$defs/")
	defs, _ := root["$defs"].(map[string]any)
	def, _ := defs[name].(map[string]any)
	if !found || def == nil {
		t.Fatalf("unresolved $ref %s", ref)
	}
	return def
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestDecodedSignInsValidate marshals every sign-in decoded from the
// fixtures and validates it against signin.schema.json.
func TestDecodedSignInsValidate(t *testing.T) {
	sch, _ := compileSchema(t, "signin.schema.json")
	var msgs [][]byte
	for _, p := range []string{"../../testdata/entra/aad_signin_random.json", "../../testdata/entra/aad_signin_user.json",
		"../../testdata/entra/aad_logons.json", "testdata/shapes/eventhubs_time_formats.jsonl"} {
		msgs = append(msgs, lines(t, p)...)
	}
	for _, p := range []string{"../../testdata/entra/sign-in_adelete.csv"} {
		msgs = append(msgs, csvRows(t, p)...)
	}
	for _, line := range lines(t, "../../testdata/entra/panther_azure_signin_rule_tests.jsonl") {
		var test struct{ Log json.RawMessage }
		_ = json.Unmarshal(line, &test)
		msgs = append(msgs, test.Log)
	}
	for _, p := range []string{"testdata/shapes/eventhubs_all_categories.json", "testdata/shapes/eventhubs_noninteractive_policies.json",
		"testdata/shapes/graph_beta_list.json", "testdata/shapes/graph_v1_signin.json", "testdata/shapes/loganalytics_rows.json",
		"testdata/bench/graph_beta_3k.json", "testdata/bench/graph_beta_11k.json"} {
		msgs = append(msgs, file(t, p))
	}
	r := decodeMessages(t, msgs)
	if len(r.signIns) < 500 {
		t.Fatalf("only %d sign-ins", len(r.signIns))
	}
	for _, si := range r.signIns {
		if err := validateJSON(t, sch, si); err != nil {
			t.Fatalf("sign-in %s does not validate: %v", si.ID, err)
		}
	}
	t.Logf("%d decoded sign-ins validate", len(r.signIns))

	// And the schema rejects what the decoders never emit.
	good := *r.signIns[0]
	for name, mutate := range map[string]func(m map[string]any){
		"no id": func(m map[string]any) { delete(m, "id") },
		"no user": func(m map[string]any) {
			delete(m, "userId")
			delete(m, "userPrincipalName")
			delete(m, "servicePrincipalId")
		},
		"unknown member":     func(m map[string]any) { m["ipaddress"] = "x" },
		"time not date-time": func(m map[string]any) { m["createdDateTime"] = "1/9/2007 9:41:00 AM" },
		"code as text":       func(m map[string]any) { m["status"] = map[string]any{"errorCode": "50126"} },
	} {
		b, _ := json.Marshal(good)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mutate(m)
		if err := validateJSON(t, sch, m); err == nil {
			t.Errorf("%s: validates", name)
		}
	}
}

func TestFlagsAndFindingsValidate(t *testing.T) {
	flags, _ := compileSchema(t, "flag.schema.json")
	for _, msg := range []string{
		`{"signInId":"aa1","userPrincipalName":"Ana@Contoso.example","flaggedAt":"2025-03-04T09:15:00+01:00","flaggedBy":"helpdesk:servicenow"}`,
		`{"correlationId":"c","userId":"u","flaggedAt":"11/14/2025 1:48:53 AM","flaggedBy":"user","reason":"cannot sign in"}`,
	} {
		f, err := DecodeFlag([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		if err := validateJSON(t, flags, f); err != nil {
			t.Errorf("flag %s: %v", msg, err)
		}
	}
	for _, bad := range []string{`{"userId":"u","flaggedAt":"2025-03-04T09:15:00Z"}`, `{"signInId":"s","flaggedAt":"2025-03-04T09:15:00Z"}`,
		`{"signInId":"s","userId":"u"}`, `{"signInId":"s","userId":"u","flaggedAt":"yesterday"}`} {
		var v any
		_ = json.Unmarshal([]byte(bad), &v)
		if err := validateJSON(t, flags, v); err == nil {
			t.Errorf("flag %s validates", bad)
		}
	}

	findings, _ := compileSchema(t, "finding.schema.json")
	at := time.Date(2025, 3, 4, 9, 12, 31, 0, time.UTC)
	for _, f := range []schemas.Finding{
		{ID: schemas.FindingID("account_locked", "SignInLogs", "a"), SignInID: "a", OccurredAt: at, Scenario: "account_locked",
			Severity: schemas.SeverityHigh, Title: "t", Summary: "s", ErrorCode: 50053},
		{ID: schemas.FindingID("excessive_failures_48h", "SignInLogs", "b"), SignInID: "b", OccurredAt: at, Scenario: "excessive_failures_48h",
			Severity: schemas.SeverityMedium, Recommendations: []string{"r"}, ErrorCodeURL: "https://login.microsoftonline.com/error?code=50126",
			Failures48h: 10, Policies: []schemas.PolicySummary{{DisplayName: "p", Result: "failure", GrantControls: []string{"Block"}}},
			Evidence: &schemas.Evidence{Failures: 10, WindowStart: at.Add(-48 * time.Hour), WindowEnd: at, TopApps: []schemas.Count{{Value: "Azure Portal", Count: 10}}}},
	} {
		if err := validateJSON(t, findings, f); err != nil {
			t.Errorf("finding %s: %v", f.Scenario, err)
		}
	}
	if err := validateJSON(t, findings, schemas.Finding{Severity: "urgent"}); err == nil {
		t.Error("a finding with no id and an unknown severity validates")
	}
}

package rules

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// update rewrites the golden files instead of comparing with them:
//
//	go test ./rules/ -run Golden -update
//
// The golden files hold every text a user reads in a finding (title, what
// happened, recommended actions, severity) for representative inputs, so a
// change of wording shows up as a reviewed diff of testdata/.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestFindingTextsGolden renders the finding of every case of the scenario
// table (the sign-in rules, one case per situation they tell apart).
func TestFindingTextsGolden(t *testing.T) {
	var b bytes.Buffer
	for _, c := range scenarioCases() {
		fs := evalCase(t, c)
		fmt.Fprintf(&b, "=== %s\n", c.name)
		if len(fs) == 0 {
			b.WriteString("(no finding)\n\n")
			continue
		}
		for _, f := range fs {
			writeText(&b, f.Scenario, f.Severity, f.Title, f.Summary, f.Recommendations)
		}
	}
	golden(t, "findings.golden", b.Bytes())
}

// TestIncidentTextsGolden renders what each windowed detection says of an
// incident, with and without the latest member sign-in at hand.
func TestIncidentTextsGolden(t *testing.T) {
	first := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	latest := &schemas.SignIn{ID: "m12", UserID: "0a1b2c3d-0000-4000-8000-000000000001", UserPrincipalName: "fay@contoso.example",
		IPAddress: "203.0.113.7", AppDisplayName: "Office 365 Exchange Online",
		DeviceDetail: schemas.DeviceDetail{OperatingSystem: "Windows10", Browser: "Edge 122.0.0"},
		Status:       schemas.Status{ErrorCode: 500121, AdditionalDetails: "MFA denied; user declined the authentication"}}
	var b bytes.Buffer
	for _, d := range Detections(nil) {
		key := "0a1b2c3d-0000-4000-8000-000000000001"
		if d.Key == KeyIP {
			key = "198.51.100.99"
		}
		if d.Split != nil {
			key += "|" + d.Split(CandidateOf(latest, true))
		}
		for _, v := range []IncidentView{
			{Key: key, Count: d.Threshold, First: first, Last: first.Add(d.Window / 2), Latest: latest},
			{Key: key, Count: 3 * d.Threshold, First: first, Last: first.Add(d.Window), Latest: nil},
		} {
			fmt.Fprintf(&b, "=== %s, %d events, latest sign-in known: %v\n", d.Scenario, v.Count, v.Latest != nil)
			got := d.Describe(&d, v)
			writeText(&b, d.Scenario, got.Severity, got.Title, got.Summary, got.Recommendations)
		}
	}
	golden(t, "incidents.golden", b.Bytes())
}

func writeText(b *bytes.Buffer, scenario, severity, title, summary string, recs []string) {
	fmt.Fprintf(b, "scenario: %s\nseverity: %s\ntitle: %s\nwhat happened: %s\nrecommended actions:\n", scenario, severity, title, summary)
	for _, r := range recs {
		fmt.Fprintf(b, "  - %s\n", strings.ReplaceAll(r, "\n", "\n    "))
	}
	b.WriteString("\n")
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path) // #nosec G304 -- a fixed file under testdata/
	if err != nil {
		t.Fatalf("%v (run `go test ./rules/ -run Golden -update` to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the rendered texts at line %d:\n got: %s\nwant: %s\n"+
					"If the new wording is intended, run `go test ./rules/ -run Golden -update` and review the diff of %s.",
					path, i+1, g, w, path)
			}
		}
	}
}

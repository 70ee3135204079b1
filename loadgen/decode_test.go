package loadgen

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/signindiag/signindiag/schemas"
)

// TestEveryShapeDecodesAndHoldsEachSignInOnce runs the project's decoder
// over 20 000 sign-ins of each shape, and checks the stream's promise: the
// first sendings hold every sign-in exactly once, duplicates repeat an
// earlier message byte for byte, and flags name sign-ins that exist.
func TestEveryShapeDecodesAndHoldsEachSignInOnce(t *testing.T) {
	created := regexp.MustCompile(`"createdDateTime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z"`)
	for _, shape := range []Shape{ShapeGraph, ShapeEventHubs, ShapeMixed} {
		t.Run(string(shape), func(t *testing.T) {
			cfg := testConfig(shape)
			cfg.FlagRate = 0.01
			ds, stats := drain(t, cfg)
			seen := make(map[string]bool, cfg.Count)
			sent := map[string]bool{}
			graphMsgs, hubsMsgs := 0, 0
			for i, d := range ds {
				v := d.msg.Value
				switch {
				case d.msg.Duplicate:
					if !sent[string(v)] {
						t.Fatalf("message %d is marked duplicate but repeats nothing sent before", i)
					}
					continue
				case d.msg.Topic == TopicFlags:
					if !seen[d.flag.SignInID] {
						t.Errorf("flag %d names sign-in %s, not sent before it", i, d.flag.SignInID)
					}
					continue
				}
				sent[string(v)] = true
				if bytes.HasPrefix(v, []byte(`{"records":[`)) {
					hubsMsgs++
				} else {
					graphMsgs++
				}
				if !created.Match(v) {
					t.Fatalf("message %d: createdDateTime not RFC 3339 with fraction and Z", i)
				}
				for _, si := range d.signIns {
					if seen[si.ID] {
						t.Fatalf("sign-in %s sent twice outside a duplicate", si.ID)
					}
					seen[si.ID] = true
					if si.Category == "" || si.UserKey() == "" {
						t.Fatalf("sign-in %s without category or user", si.ID)
					}
				}
			}
			if len(seen) != cfg.Count || stats.SignIns != cfg.Count {
				t.Errorf("%d distinct sign-ins, stats %d, want %d", len(seen), stats.SignIns, cfg.Count)
			}
			if stats.Flags == 0 || stats.Duplicates == 0 {
				t.Errorf("no flags (%d) or duplicates (%d) at rates %v and %v", stats.Flags, stats.Duplicates, cfg.FlagRate, cfg.DuplicateRate)
			}
			switch shape {
			case ShapeGraph:
				if hubsMsgs > 0 {
					t.Errorf("graph shape sent %d envelopes", hubsMsgs)
				}
			case ShapeEventHubs:
				if graphMsgs > 0 {
					t.Errorf("eventhubs shape sent %d Graph objects", graphMsgs)
				}
			case ShapeMixed:
				if graphMsgs == 0 || hubsMsgs == 0 {
					t.Errorf("mixed shape: %d Graph objects, %d envelopes", graphMsgs, hubsMsgs)
				}
			}
			perSignIn := float64(stats.Bytes) / float64(stats.SignIns+stats.Duplicates)
			if perSignIn < 3000 || perSignIn > 4800 {
				t.Errorf("%.0f bytes per sign-in, want the 3–4.5 KB of real records", perSignIn)
			}
		})
	}
}

// TestEnvelopeRecordsCarryTheirCategory: Azure Monitor records name their
// category, and the decoder must take it from them.
func TestEnvelopeRecordsCarryTheirCategory(t *testing.T) {
	ds, _ := drain(t, testConfig(ShapeEventHubs))
	counts := map[string]int{}
	for _, si := range firstSendings(ds) {
		counts[si.Category]++
		if want := si.Category == schemas.CategoryInteractive; si.IsInteractive != want {
			t.Fatalf("%s: isInteractive %v in category %s", si.ID, si.IsInteractive, si.Category)
		}
	}
	for _, c := range []string{schemas.CategoryInteractive, schemas.CategoryNonInteractive, schemas.CategoryServicePrincipal} {
		if counts[c] == 0 {
			t.Errorf("no %s records: %v", c, counts)
		}
	}
}

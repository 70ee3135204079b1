package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/wire"
)

// Rows written before the pipeline stored the wire encoding hold JSON; both
// must read back as the same sign-in.
func TestStoredDocumentsReadInBothFormats(t *testing.T) {
	si := &schemas.SignIn{ID: "r1", Category: schemas.CategoryInteractive, UserID: "u1",
		CreatedDateTime: time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC), Status: schemas.Status{ErrorCode: 50126},
		AppliedConditionalAccessPolicies: []schemas.AppliedPolicy{{ID: "p", DisplayName: "Block", Result: "failure"}}}
	legacy, err := json.Marshal(si)
	if err != nil {
		t.Fatal(err)
	}
	current, err := wire.AppendEvent(nil, &schemas.Event{SignIn: si})
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{"json": legacy, "wire": current} {
		got, err := wire.DecodeSignInDocument(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.ID != "r1" || got.Status.ErrorCode != 50126 || !got.CreatedDateTime.Equal(si.CreatedDateTime) ||
			len(got.AppliedConditionalAccessPolicies) != 1 || got.AppliedConditionalAccessPolicies[0].DisplayName != "Block" {
			t.Errorf("%s: read back %+v", name, got)
		}
	}
	if _, err := wire.DecodeSignInDocument([]byte("\x07garbage")); err == nil {
		t.Error("an unknown format decoded without error")
	}
}

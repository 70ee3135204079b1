package schemas

import "testing"

func TestFindingIDIsDeterministicAndSeparatesParts(t *testing.T) {
	if a, b := FindingID("a", "b"), FindingID("a", "b"); a != b {
		t.Fatal("same parts, different ids")
	}
	if FindingID("ab", "c") == FindingID("a", "bc") {
		t.Fatal("parts are not separated")
	}
}

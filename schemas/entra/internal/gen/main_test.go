package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedCodeIsCurrent fails while decode_gen.go differs from what
// the model and spec.go give: run `go generate ./schemas/entra/`.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	got, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../decode_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("schemas/entra/decode_gen.go is stale: run `go generate ./schemas/entra/` and commit it")
	}
}

// TestEveryModelFieldIsDecoded: the generator refuses a field it has no
// reader for, and a reader in spec.go for a field the model lacks.
func TestEveryModelFieldIsDecoded(t *testing.T) {
	for _, s := range specs {
		g := &gen{}
		if err := g.typ(s); err != nil {
			t.Errorf("%s: %v", s.Type.Name(), err)
		}
	}
	bad := spec{Type: specs[1].Type, Prefix: "x", Fields: map[string]string{"NoSuchField": "d.skip()"}}
	if err := (&gen{}).typ(bad); err == nil {
		t.Error("a reader for a field the model lacks is accepted")
	}
}

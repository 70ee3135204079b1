package wire

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/entra"
)

// fixtureDirs hold the project's Entra samples: every sign-in that decodes
// from them is a round-trip case.
var fixtureDirs = []string{"../../schemas/entra/testdata", "../../testdata"}

type fixture struct {
	name   string
	signIn *schemas.SignIn
}

// fixtureSignIns decodes every .json and .jsonl file under fixtureDirs,
// whole and (for .jsonl) line by line, and returns the sign-ins that decode.
func fixtureSignIns(tb testing.TB) []fixture {
	tb.Helper()
	var out []fixture
	for _, dir := range fixtureDirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".jsonl")) {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			messages := [][]byte{data}
			if strings.HasSuffix(path, ".jsonl") {
				messages = bytes.Split(data, []byte("\n"))
			}
			for _, m := range messages {
				decoded, err := entra.DecodeSignIns(bytes.TrimSpace(m))
				if err != nil {
					continue
				}
				for _, d := range decoded {
					if d.Err == nil {
						out = append(out, fixture{name: filepath.Base(path) + "/" + d.SignIn.Identity(), signIn: d.SignIn})
					}
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if len(out) < 20 {
		tb.Fatalf("only %d fixture sign-ins decode: are the fixture directories still there?", len(out))
	}
	return out
}

// benchSignIn is a realistic Graph beta sign-in: 3k (3 CA policies) or
// 11k (23 policies, Entra's average stored size).
func benchSignIn(tb testing.TB, size string) *schemas.SignIn {
	tb.Helper()
	data, err := os.ReadFile("../../schemas/entra/testdata/bench/graph_beta_" + size + ".json")
	if err != nil {
		tb.Fatal(err)
	}
	decoded, err := entra.DecodeSignIns(data)
	if err != nil || len(decoded) != 1 || decoded[0].Err != nil {
		tb.Fatalf("decode bench sample %s: %v %v", size, err, decoded)
	}
	return decoded[0].SignIn
}

// viaJSON is what the legacy format delivers for ev: the reference a
// lossless codec must match, with times in UTC.
func viaJSON(tb testing.TB, ev *schemas.Event) schemas.Event {
	tb.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		tb.Fatalf("json: %v", err)
	}
	var out schemas.Event
	if err := json.Unmarshal(data, &out); err != nil {
		tb.Fatalf("json: %v", err)
	}
	timesToUTC(reflect.ValueOf(&out).Elem())
	return out
}

var timeType = reflect.TypeFor[time.Time]()

// timesToUTC rewrites every time.Time reachable from v (addressable) in UTC.
func timesToUTC(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
			return
		}
		for i := range v.NumField() {
			timesToUTC(v.Field(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			timesToUTC(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			timesToUTC(v.Index(i))
		}
	}
}

// roundTrip encodes ev and decodes it into a fresh event.
func roundTrip(tb testing.TB, ev *schemas.Event) schemas.Event {
	tb.Helper()
	data, err := AppendEvent(nil, ev)
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	var out schemas.Event
	if err := DecodeEvent(data, &out); err != nil {
		tb.Fatalf("decode: %v", err)
	}
	return out
}

// requireSame fails with both values as JSON when got differs from want.
func requireSame(tb testing.TB, name string, got, want any) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		tb.Fatalf("%s: round trip differs\n got: %s\nwant: %s", name, g, w)
	}
}

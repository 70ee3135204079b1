package entra

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Fuzz targets. Seeds come from the fixtures; crashers found while fuzzing
// are kept under testdata/fuzz/<Target>/ and run with the unit tests.
//
//	go test -run '^$' -fuzz FuzzDecodeSignIns -fuzztime 45s ./schemas/

// fuzzSeeds returns every fixture message (lines of the NDJSON files and
// whole JSON files), capped in size so the fuzzer stays fast.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	add := func(b []byte) {
		if len(b) <= 12<<10 {
			seeds = append(seeds, b)
		}
	}
	paths, _ := filepath.Glob("testdata/shapes/*.json*")
	entra, _ := filepath.Glob("../../testdata/entra/*.json*")
	for _, p := range append(paths, entra...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if strings.HasSuffix(p, ".jsonl") || strings.Contains(p, "aad_") {
			for i, line := range bytes.Split(data, []byte("\n")) {
				if i < 6 {
					if strings.Contains(p, "panther") {
						var test struct{ Log json.RawMessage }
						_ = json.Unmarshal(line, &test) // a seed; an unreadable line seeds nothing
						line = test.Log
					}
					add(line)
				}
			}
			continue
		}
		add(data)
	}
	for _, s := range []string{graphSignIn, `{"value":[]}`, `[{"Id":"a","TimeGenerated":"1/9/2007 9:41:00 AM","UserId":"u"}]`,
		`{"records":[{"time":"2025-03-04T09:10:02Z","properties":{"id":"a","userId":"u","status":"{\"errorCode\":1}"}}]}`} {
		add([]byte(s))
	}
	bench, _ := filepath.Glob("testdata/bench/*.json")
	for _, p := range bench {
		data, _ := os.ReadFile(p)
		add(data)
	}
	return seeds
}

func FuzzDecodeSignIns(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		in := bytes.Clone(msg)
		got, err := DecodeSignIns(msg)
		if !bytes.Equal(in, msg) {
			t.Fatal("DecodeSignIns modified its input")
		}
		valid := json.Valid(msg)
		if err != nil {
			var de *DecodeError
			if !errorsAs(err, &de) || got != nil {
				t.Fatalf("error %v is not a DecodeError", err)
			}
			if ReasonOf(err) != ReasonInvalidJSON {
				t.Fatalf("message-level reason %s", ReasonOf(err))
			}
			if valid && startsObjectOrArray(msg) && !arrayWithoutObjects(msg) {
				t.Fatalf("valid JSON object/array rejected: %v", err)
			}
			return
		}
		if !valid {
			t.Fatalf("invalid JSON accepted: %q", msg)
		}
		for _, d := range got {
			if !json.Valid(d.Raw) {
				t.Fatalf("raw bytes %q are not JSON", d.Raw)
			}
			if d.Err != nil {
				if d.SignIn != nil {
					t.Fatal("record with both a sign-in and an error")
				}
				continue
			}
			checkInvariants(t, d.SignIn)
		}
		// A record decodes the same alone and as the element of a batch.
		if len(got) == 1 && bytes.Equal(got[0].Raw, trimSpace(msg)) {
			batch, err := DecodeSignIns(append(append([]byte(`{"x":1,"records":[{},`), msg...), `]}`...))
			if err != nil || len(batch) != 2 {
				t.Fatalf("in a batch: %v %d records", err, len(batch))
			}
			a, b := got[0], batch[1]
			if !bytes.Equal(b.Raw, a.Raw) || ReasonOf(a.Err) != ReasonOf(b.Err) || (a.Err == nil) != (b.Err == nil) {
				t.Fatalf("alone: %v; in a batch: %v (raw %q)", a.Err, b.Err, b.Raw)
			}
			if a.Err == nil {
				if d := diffSignIns(a.SignIn, b.SignIn); d != "" {
					t.Fatalf("alone and in a batch differ: %s", d)
				}
			}
		}
	})
}

func startsObjectOrArray(b []byte) bool {
	b = trimSpace(b)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// arrayWithoutObjects reports a non-empty top-level array none of whose
// elements is an object: not a sign-in message.
func arrayWithoutObjects(b []byte) bool {
	var elems []json.RawMessage
	if json.Unmarshal(b, &elems) != nil || len(elems) == 0 {
		return false
	}
	for _, e := range elems {
		if t := trimSpace(e); len(t) > 0 && t[0] == '{' {
			return false
		}
	}
	return true
}

// errorsAs requires the decoder's own error type, unwrapped: the decoder
// returns it as is.
func errorsAs(err error, de **DecodeError) bool {
	d, ok := err.(*DecodeError) //nolint:errorlint // unwrapped on purpose (see above)
	*de = d
	return ok
}

func FuzzDecodeFlag(f *testing.F) {
	for _, s := range []string{
		`{"signInId":"aa1","userPrincipalName":"Ana@Contoso.example","flaggedAt":"2025-03-04T09:15:00+01:00","flaggedBy":"helpdesk"}`,
		`{"correlationId":"c","userId":"u","flaggedAt":"11/14/2025 1:48:53 AM","flaggedBy":"user","reason":"x"}`,
		`{"requestId":"r","userId":"u","flaggedAt":"2025-03-04 09:15:00.123","id":"x"}`,
		`{"requestId":"r"}`, `[]`, `nope`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fl, err := DecodeFlag(msg)
		if err != nil {
			if fl != nil || ReasonOf(err) == "" {
				t.Fatalf("%v %v", fl, err)
			}
			if !json.Valid(msg) && ReasonOf(err) != ReasonInvalidJSON {
				t.Fatalf("invalid JSON gave %s", ReasonOf(err))
			}
			return
		}
		if !json.Valid(msg) {
			t.Fatalf("invalid JSON accepted: %q", msg)
		}
		if fl.SignInID == "" && fl.CorrelationID == "" && fl.RequestID == "" || fl.UserKey() == "" || fl.ID == "" {
			t.Fatalf("flag lacks a required field: %+v", fl)
		}
		if fl.FlaggedAt.IsZero() || fl.FlaggedAt.Location() != time.UTC || fl.FlaggedAt.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("flaggedAt %v", fl.FlaggedAt)
		}
		if _, err := json.Marshal(fl); err != nil {
			t.Fatal(err)
		}
	})
}

var rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2019-03-12T16:02:15.5522137Z", "2019-10-18T04:45:48.0729893-05:00", "2007-01-09T09:41:00",
		"01/09/2007 09:41:00", "1/9/2007 9:41:00 AM", "1/9/2007 10:41:00 AM +01:00", "11/14/2025 1:48:53 AM",
		"4/28/2021, 2:08:45.221 PM", "2025-01-15 09:30:45.123", "2024-02-29T23:59:59.999999999+23:59", "2007-01-09"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTime([]byte(s))
		if ok && got.Location() != time.UTC {
			t.Fatalf("%q: %v not UTC", s, got)
		}
		// Whatever well-formed RFC 3339 time.Parse accepts, parseTime
		// accepts with the same instant. (time.Parse, and so encoding/json,
		// also takes malformed forms such as a one-digit hour or an offset
		// of +00:60; see go.dev/issue/54580.)
		if want, err := time.Parse(time.RFC3339Nano, s); err == nil && rfc3339.MatchString(s) && s[len(s)-2:] < "60" &&
			want.UTC().Year() >= 1 && want.UTC().Year() <= 9999 {
			if !ok || !got.Equal(want) {
				t.Fatalf("%q: %v %v, time.Parse gives %v", s, got, ok, want)
			}
		}
		if ok && (got.Year() < 1 || got.Year() > 9999) {
			t.Fatalf("%q: %v is outside the years JSON can carry", s, got)
		}
		if ok {
			// Round trip through the canonical form.
			again, ok2 := parseTime([]byte(got.Format(time.RFC3339Nano)))
			if !ok2 || !again.Equal(got) {
				t.Fatalf("%q: %v does not round-trip (%v)", s, got, again)
			}
		}
	})
}

// FuzzLexer checks the lexer against encoding/json: the same documents are
// valid, and strings unescape to the same text.
func FuzzLexer(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e3,true,false,null,"x\u00e9\ud83d\ude00"]}`, `"\ud800"`, "\"\xff\"", `[[[]]]`,
		`{"a":{"b":{}}}`, `01`, `1.`, `-`, `"\u12"`, `{"a" : "b" , "c" : [ ] }`, `"` + strings.Repeat("abcdefgh", 5) + `\n"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var l lexer
		l.reset(data)
		if l.peek() == 0 {
			l.fail("empty")
		} else {
			l.skip()
			l.end()
		}
		if (l.err == nil) != json.Valid(data) {
			t.Fatalf("%q: lexer error %v, json.Valid %v", data, l.err, json.Valid(data))
		}
		var want string
		if json.Unmarshal(data, &want) == nil {
			l.reset(data)
			l.peek()
			got := l.str()
			if l.err != nil || string(got) != want {
				t.Fatalf("%q: str %q (%v), encoding/json %q", data, got, l.err, want)
			}
		}
	})
}

// FuzzLenientNumbers checks the number conversions used for numbers sent
// as strings.
func FuzzLenientNumbers(f *testing.F) {
	for _, s := range []string{"50126", "-1", "3.0", "1e3", "8075", " 12 ", "NaN", "Inf", "0x10", "1_000", "1e400", "9223372036854775807", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		if v, ok := parseFloatText(b); ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("%q gave %v", s, v)
		}
		if v, ok := parseIntText(b); ok {
			if want, err := strconv.ParseInt(s, 10, 64); err == nil && int64(v) != want {
				t.Fatalf("%q gave %d, want %d", s, v, want)
			}
			if f, err := strconv.ParseFloat(s, 64); err != nil || f != float64(v) && math.Abs(f-float64(v)) > 1024 {
				t.Fatalf("%q gave %d, float %v %v", s, v, f, err)
			}
		} else if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			t.Fatalf("%q: a decimal integer rejected", s)
		}
	})
}

// FuzzConditions checks the conditionalAccessConditions conversions.
func FuzzConditions(f *testing.F) {
	for _, s := range []string{"0", "3", "19", "131075", "application,users", "Application, Users", "none", "n", ",", "x,,y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := normaliseConditions(s)
		if twice := normaliseConditions(once); twice != once {
			t.Fatalf("%q → %q → %q: not idempotent", s, once, twice)
		}
		if v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64); err == nil {
			// The list names exactly the bits of v.
			var back uint64
			for part := range strings.SplitSeq(once, ",") {
				if n, err := strconv.ParseUint(part, 10, 64); err == nil {
					back |= n
					continue
				}
				for i, name := range conditionNames {
					if name == part && i > 0 {
						back |= 1 << (i - 1)
					}
				}
			}
			if back != v {
				t.Fatalf("%d → %q → %d", v, once, back)
			}
		}
		// The decoder reads the value as normaliseConditions does.
		if !utf8.ValidString(s) {
			return
		}
		quoted, _ := json.Marshal(s)
		msg := `{"id":"a","createdDateTime":"2025-03-04T09:12:31Z","userId":"u","appliedConditionalAccessPolicies":[{"conditionsSatisfied":` + string(quoted) + `}]}`
		got, err := DecodeSignIns([]byte(msg))
		if err != nil || got[0].Err != nil {
			t.Fatalf("%s: %v %v", msg, err, got[0].Err)
		}
		if c := got[0].SignIn.AppliedConditionalAccessPolicies[0].ConditionsSatisfied; c != once {
			t.Fatalf("%q: decoder %q, normaliseConditions %q", s, c, once)
		}
	})
}

// FuzzMatchesEncodingJSON: on Graph signIn objects that encoding/json reads
// without error and that hold no duplicate keys, the decoder must give the
// same sign-in as encoding/json plus the same normalisation.
func FuzzMatchesEncodingJSON(f *testing.F) {
	for _, p := range []string{"testdata/shapes/graph_v1_signin.json", "testdata/bench/graph_beta_3k.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(graphSignIn))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if !graphComparable(msg) {
			return
		}
		want, werr := decodeEncodingJSON(msg)
		if werr != nil {
			return // encoding/json is stricter (types) or validation failed
		}
		// The decoder rejects on purpose what encoding/json's lax time
		// parsing takes: years outside 1–9999 in UTC (they cannot be
		// marshalled again) and offsets with 60 minutes or more.
		if badOffset.Match(msg) || outOfRange(want.CreatedDateTime) {
			return
		}
		for _, a := range want.AuthenticationDetails {
			if outOfRange(a.AuthenticationStepDateTime) && !a.AuthenticationStepDateTime.IsZero() {
				return
			}
		}
		got, err := DecodeSignIns(msg)
		if err != nil || len(got) != 1 || got[0].Err != nil {
			t.Fatalf("encoding/json reads it, the decoder does not: %v %+v", err, got)
		}
		if d := diffSignIns(got[0].SignIn, want); d != "" {
			t.Fatalf("differs from encoding/json: %s", d)
		}
	})
}

var badOffset = regexp.MustCompile(`[+-]\d\d:?[6-9]\d`)

func outOfRange(t time.Time) bool { y := t.UTC().Year(); return y < 1 || y > 9999 }

// graphComparable limits the differential check to what both decoders
// treat alike: an object whose members are all Graph signIn fields (the
// decoder also reads Azure Monitor and Log Analytics members, and batches),
// with no duplicate keys (encoding/json merges repeated arrays element by
// element; the decoder takes the last array) and no numbers sent as text
// for conditions (which the decoder expands).
func graphComparable(msg []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(msg, &top) != nil {
		return false
	}
	for k := range top {
		if !graphTags[strings.ToLower(k)] {
			return false
		}
		id, ok := signInFields.get([]byte(k))
		if !ok || id >= fTime || id == fIgnore || id == fCategory || id == fLAType {
			return false
		}
		if id == fResourceID && bytes.HasPrefix(bytes.TrimLeft(top[k], " \t\r\n\""), []byte("/")) {
			return false // a log resource path, which the decoder drops
		}
		switch id {
		case fTenantID, fIPAddress, fRiskEventTypesV2:
			if _, exact := graphFields[k]; !exact {
				return false // Log Analytics spellings with their own meaning
			}
		}
	}
	return keysComparable(msg)
}

// graphFields are the Graph signIn members: the generated names of the
// model's fields, without the Azure Monitor members that follow them.
var graphFields = func() map[string]uint8 {
	m := map[string]uint8{}
	for k, id := range signInNames {
		if id < fTime {
			m[k] = id
		}
	}
	return m
}()

var graphTags = func() map[string]bool {
	m := map[string]bool{}
	for k := range graphFields {
		m[strings.ToLower(k)] = true
	}
	return m
}()

// keysComparable reports that no object repeats a key (in any casing) and
// every key is ASCII (encoding/json also folds a few non-ASCII letters,
// such as the Kelvin sign, onto ASCII names).
func keysComparable(msg []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(msg))
	type frame struct {
		keys  map[string]bool
		isObj bool
		key   bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return err.Error() == "EOF"
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.isObj {
					top.key = true
				}
				stack = append(stack, &frame{keys: map[string]bool{}, isObj: v == '{', key: v == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.isObj && top.key {
				k := strings.ToLower(v)
				if top.keys[k] {
					return false
				}
				for i := 0; i < len(v); i++ {
					if v[i] >= utf8.RuneSelf {
						return false
					}
				}
				top.keys[k] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.isObj {
			top.key = true
		}
	}
}

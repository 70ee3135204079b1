// Package catalog is the catalogue of Microsoft Entra AADSTS sign-in error
// codes: for each code its STS name, meaning, category, kind and a one-line
// remediation.
//
// The catalogue is data, not code (errorcodes.json, embedded in the binary),
// because Microsoft adds and rewords codes over time: keeping the table as data
// lets the "error code insight" fallback and the failure classification be
// corrected by replacing or merging a file instead of editing rules.
//
// Source: the public AADSTS error-code reference and Microsoft's sign-in
// troubleshooting guides (118 codes plus the entry for 0), extended with the
// codes the recognition rules of docs/scenarios.md mention (76021, 7500514,
// 80011, 81005, 81009) and 500022, which means the same as 500021. Entries
// beyond the 118 say so in their note. docs/error-codes.md lists the codes by
// kind and explains how to extend the catalogue.
//
// Code 0 is a dedicated success entry: kind "" (KindSuccess), category
// "success", empty remediation. It is the only entry allowed to have kind "".
package catalog

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Kind says how a code counts for failure statistics (docs/error-codes.md#kinds).
type Kind string

const (
	// KindFailure is a real failure: it ends the sign-in unless the user or an
	// admin changes something, and counts in the per-user 48 h failure window.
	KindFailure Kind = "F"
	// KindInterrupt is an expected intermediate step (MFA prompt, "keep me
	// signed in", registration). Not a failure; only interesting when the same
	// correlationId never reaches errorCode 0.
	KindInterrupt Kind = "I"
	// KindBenign is an expected lifecycle event (token or session expiry,
	// silent-SSO miss, ignorable). Not a failure.
	KindBenign Kind = "B"
	// KindService is a service-side or transient error: retry, count it
	// separately for health, never against the user.
	KindService Kind = "S"
	// KindSuccess is the kind of the success entry, code 0, and of no other.
	KindSuccess Kind = ""
)

// Valid reports whether k is one of F, I, B, S. KindSuccess is not Valid: it
// is reserved for code 0.
func (k Kind) Valid() bool {
	switch k {
	case KindFailure, KindInterrupt, KindBenign, KindService:
		return true
	}
	return false
}

// Code is one catalogue entry. The JSON field names are those of
// errorcodes.json.
type Code struct {
	Code        int    `json:"code"`
	Name        string `json:"name"`        // STS internal name where published, else a short description
	Meaning     string `json:"meaning"`     // short meaning
	Category    string `json:"category"`    // e.g. "credentials", "conditional access", "app configuration (SP)"
	Kind        Kind   `json:"kind"`        // F, I, B, S; "" only for code 0
	Remediation string `json:"remediation"` // one line; may be empty for B and for code 0
	Note        string `json:"note"`        // provenance or classification remark; often empty
}

// Catalog is a set of codes. It is immutable once built by Parse, Default or
// Merge, so one value may be shared by any number of goroutines.
type Catalog struct {
	byCode map[int]Code
}

//go:embed errorcodes.json
var embedded []byte

var defaultCatalog = sync.OnceValue(func() *Catalog {
	c, err := Parse(embedded)
	if err != nil {
		// Unreachable in a tested build: TestDefaultIsValid parses the same bytes.
		panic("catalog: embedded errorcodes.json is invalid: " + err.Error())
	}
	return c
})

// Default returns the embedded catalogue. It is parsed once and shared. It
// panics only if the embedded file is invalid, which the package tests rule
// out, so callers need not handle an error for data compiled into the binary.
func Default() *Catalog { return defaultCatalog() }

// entryJSON mirrors Code with Code as a pointer, so that a missing "code" is
// an error instead of silently becoming the success entry 0.
type entryJSON struct {
	Code        *int   `json:"code"`
	Name        string `json:"name"`
	Meaning     string `json:"meaning"`
	Category    string `json:"category"`
	Kind        Kind   `json:"kind"`
	Remediation string `json:"remediation"`
	Note        string `json:"note"`
}

// Parse reads a catalogue: a JSON array of objects shaped like Code. It
// checks that every entry has a code ≥ 0 that no other entry has, a non-empty
// name, a kind in {F, I, B, S} (code 0 must have kind "" and is the only code
// that may), and a non-empty remediation for kinds F, I and S. Unknown fields
// are rejected so that a typo in an override file is not silently ignored.
// All problems are reported, each naming the entry by position and code.
//
// An empty array is a valid (empty) catalogue, which is useful as an override.
func Parse(data []byte) (*Catalog, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, errors.New("catalog: want a JSON array of code entries")
	}
	var raws []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&raws); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if dec.More() {
		return nil, errors.New("catalog: unexpected data after the JSON array")
	}

	c := &Catalog{byCode: make(map[int]Code, len(raws))}
	firstAt := make(map[int]int, len(raws)) // code -> entry index
	var errs []error
	for i, raw := range raws {
		e, err := parseEntry(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("catalog: entry %d: %w", i, err))
			continue
		}
		where := fmt.Sprintf("catalog: entry %d (code %d)", i, e.Code)
		if j, dup := firstAt[e.Code]; dup {
			errs = append(errs, fmt.Errorf("%s: duplicate code, first defined by entry %d", where, j))
			continue
		}
		firstAt[e.Code] = i
		if err := validate(e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		c.byCode[e.Code] = e
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func parseEntry(raw json.RawMessage) (Code, error) {
	var r entryJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Code{}, err
	}
	if r.Code == nil {
		return Code{}, fmt.Errorf("missing \"code\" (name %q)", r.Name)
	}
	return Code{
		Code: *r.Code, Name: r.Name, Meaning: r.Meaning, Category: r.Category,
		Kind: r.Kind, Remediation: r.Remediation, Note: r.Note,
	}, nil
}

func validate(e Code) error {
	if e.Code < 0 {
		return errors.New("code must not be negative")
	}
	if strings.TrimSpace(e.Name) == "" {
		return errors.New("name is empty")
	}
	if e.Code == 0 {
		if e.Kind != KindSuccess {
			return fmt.Errorf("code 0 is success and must have kind \"\", not %q", e.Kind)
		}
		return nil
	}
	if !e.Kind.Valid() {
		return fmt.Errorf("kind %q is not one of F, I, B, S", e.Kind)
	}
	if e.Kind != KindBenign && strings.TrimSpace(e.Remediation) == "" {
		return fmt.Errorf("remediation is empty (required for kind %s)", e.Kind)
	}
	return nil
}

// Merge returns a new catalogue holding c's entries, with overrides' entries
// replacing those of the same code and adding the others. Neither c nor
// overrides is modified. Use it to apply a site-specific file over Default.
func (c *Catalog) Merge(overrides *Catalog) *Catalog {
	out := &Catalog{byCode: make(map[int]Code, c.Len()+overrides.Len())}
	if c != nil {
		for k, v := range c.byCode {
			out.byCode[k] = v
		}
	}
	if overrides != nil {
		for k, v := range overrides.byCode {
			out.byCode[k] = v
		}
	}
	return out
}

// Lookup returns the entry for code and whether the catalogue knows it.
func (c *Catalog) Lookup(code int) (Code, bool) {
	if c == nil {
		return Code{}, false
	}
	e, ok := c.byCode[code]
	return e, ok
}

// IsFailure reports whether a sign-in with this status.errorCode counts as a
// failure (e.g. in the per-user 48 h window). Code 0 and codes of kind I, B
// and S do not. Kind F does.
//
// A non-zero code the catalogue does not know also counts as a failure
// (docs/error-codes.md "What counts as a failure"): Microsoft adds codes faster
// than any catalogue follows, and most codes are failures, so an unknown code
// is surfaced (it also raises error_code_insight) rather than silently left out
// of failure counts. If a new code proves benign, add it via Merge.
func (c *Catalog) IsFailure(code int) bool {
	if code == 0 {
		return false
	}
	e, ok := c.Lookup(code)
	if !ok {
		return true
	}
	return e.Kind == KindFailure
}

// Len returns the number of entries, the success entry included.
func (c *Catalog) Len() int {
	if c == nil {
		return 0
	}
	return len(c.byCode)
}

// All returns a copy of every entry, sorted by code.
func (c *Catalog) All() []Code {
	out := make([]Code, 0, c.Len())
	if c != nil {
		for _, e := range c.byCode {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Code) int { return cmp.Compare(a.Code, b.Code) })
	return out
}

// ErrorPage returns Microsoft's public lookup page for an AADSTS code, the
// link the diagnostic's "error code insights" shows next to the remediation.
func ErrorPage(code int) string {
	return "https://login.microsoftonline.com/error?code=" + strconv.Itoa(code)
}

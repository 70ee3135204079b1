package entra

import (
	"math"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/signindiag/signindiag/schemas"
)

// decoder maps one message onto the model in a single pass of the lexer.
// Decoders are pooled; one serves one goroutine at a time.
type decoder struct {
	lexer

	// arena holds the bytes of the strings handed out. It is append-only:
	// bytes are never written after a string refers to them, so strings
	// can point into it (one allocation per 16 KB instead of one per
	// string); a retained SignIn keeps at most its chunks alive. The used
	// length is kept apart so that taking a string writes no pointer (no
	// GC write barrier).
	arena    []byte
	arenaLen int
	// strSlab backs the []string fields the same way, with capacity-limited
	// sub-slices so an append by a caller never reaches a neighbour.
	strSlab    []string
	strSlabLen int
	// plain makes keep allocate each string (flags are few and long-lived).
	plain bool

	// nest holds the text of JSON found inside strings, one buffer per
	// level, while it is decoded.
	nest      [][]byte
	nestDepth int

	hints [][]int16

	// soft is the first problem of the record being decoded that rejects
	// that record but not the rest of the message.
	soft *DecodeError
}

// recordState is one record while it is decoded: the members at its top
// (a Graph signIn, a Log Analytics row or an Azure Monitor record) and, for
// Azure Monitor records, the sign-in under "properties", which is decoded
// straight into the SignIn that is returned.
type recordState struct {
	outer  schemas.SignIn
	om, im recordMeta
	inner  *schemas.SignIn
}

// recordMeta holds what a record says beside the SignIn fields.
type recordMeta struct {
	known    bool // at least one member was recognised
	hasProps bool // an Azure Monitor record: the sign-in is in properties

	created    timeState
	time       time.Time
	timeState  timeState
	badCreated string
	badTime    string

	codeSet       bool // status.errorCode was a number
	resultCode    int
	resultCodeSet bool

	category, laType  string
	resultDescription string
	callerIP          string
	country           string
	identity          string
}

type timeState uint8

const (
	timeAbsent timeState = iota
	timeOK
	timeBad
)

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

func getDecoder(data []byte) *decoder {
	d := decoderPool.Get().(*decoder)
	d.reset(data)
	d.nestDepth = 0
	d.soft = nil
	return d
}

func (d *decoder) release() {
	d.data = nil
	// Do not keep what one huge message needed.
	if cap(d.buf) > 64<<10 {
		d.buf = nil
	}
	if cap(d.stack) > 64<<10 {
		d.stack = nil
	}
	for i := range d.nest {
		if cap(d.nest[i]) > 64<<10 {
			d.nest[i] = nil
		}
	}
	d.plain = false
	decoderPool.Put(d)
}

const (
	arenaChunk = 16 << 10
	slabChunk  = 512
)

// keep returns b as a string that outlives the input.
func (d *decoder) keep(b []byte) string {
	n := len(b)
	if n == 0 {
		return ""
	}
	if d.plain || n > arenaChunk/8 {
		return string(b)
	}
	if len(d.arena)-d.arenaLen < n {
		d.arena, d.arenaLen = make([]byte, arenaChunk), 0
	}
	start := d.arenaLen
	copy(d.arena[start:], b)
	d.arenaLen += n
	return unsafe.String(&d.arena[start], n)
}

// keepStrings copies a scratch list into the slab.
func (d *decoder) keepStrings(src []string) []string {
	n := len(src)
	if n == 0 {
		return []string{}
	}
	if d.plain || n > slabChunk/8 {
		return append([]string(nil), src...)
	}
	if len(d.strSlab)-d.strSlabLen < n {
		d.strSlab, d.strSlabLen = make([]string, slabChunk), 0
	}
	start := d.strSlabLen
	copy(d.strSlab[start:], src)
	d.strSlabLen += n
	return d.strSlab[start : start+n : start+n]
}

// softf records a problem that rejects the current record but not the
// rest of the message.
func (d *decoder) softf(format string, args ...any) {
	if d.soft == nil {
		d.soft = malformed(ReasonInvalidJSON, format, args...)
	}
}

// ---------------------------------------------------------------------------
// Lenient readers. Each consumes exactly one value. Null leaves the target
// untouched (as encoding/json does for non-pointer fields); a value of
// another type is converted when that makes sense (numbers sent as strings,
// booleans sent as "True") and otherwise ignored.

// scalar reads a value and returns a string's contents or a number's
// text, and the kind met: '"', '0' (number), 't', 'f', 'n'; objects and
// arrays are skipped and give 0.
func (d *decoder) scalar() ([]byte, byte) {
	switch c := d.peek(); {
	case c == '"':
		return d.str(), '"'
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number(), '0'
	case c == 't' || c == 'f' || c == 'n':
		return nil, d.literal()
	case c == '{' || c == '[':
		d.skip()
		return nil, 0
	}
	d.fail("invalid character looking for beginning of value")
	return nil, 0
}

func (d *decoder) readStr(dst *string) {
	b, k := d.scalar()
	switch k {
	case '"', '0':
		*dst = d.keep(b)
	case 't':
		*dst = "true"
	case 'f':
		*dst = "false"
	}
}

// readEnum reads a string and puts a known value of e in Graph's casing.
func (d *decoder) readEnum(dst *string, e *enum) {
	b, k := d.scalar()
	switch k {
	case '"', '0':
		if c := e.canon(b); c != "" {
			*dst = c
		} else {
			*dst = d.keep(b)
		}
	case 't':
		*dst = "true"
	case 'f':
		*dst = "false"
	}
}

// readCAStatus reads conditionalAccessStatus, which old Log Analytics rows
// send as the member's index (0 = success, 1 = failure, 2 = notApplied).
func (d *decoder) readCAStatus(dst *string) {
	b, k := d.scalar()
	switch k {
	case '"', '0':
		if c := caStatus(b); c != "" {
			*dst = c
		} else {
			*dst = d.keep(b)
		}
	}
}

func (d *decoder) readInt(dst *int) bool {
	b, k := d.scalar()
	if k != '"' && k != '0' {
		return false
	}
	v, ok := parseIntText(trimSpace(b))
	if ok {
		*dst = v
	}
	return ok
}

func (d *decoder) readFloat(dst *float64) bool {
	b, k := d.scalar()
	if k != '"' && k != '0' {
		return false
	}
	f, ok := parseFloatText(trimSpace(b))
	if ok {
		*dst = f
	}
	return ok
}

func (d *decoder) readBool(dst *bool) {
	b, k := d.scalar()
	switch k {
	case 't':
		*dst = true
	case 'f':
		*dst = false
	case '"':
		b = trimSpace(b)
		if len(b) > 5 {
			return
		}
		var buf [5]byte
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		switch string(buf[:len(b)]) {
		case "true", "1", "yes":
			*dst = true
		case "false", "0", "no":
			*dst = false
		}
	case '0':
		if f, ok := parseFloatText(b); ok {
			*dst = f != 0
		}
	}
}

// readTime reads a time in any of the formats of docs/event-shapes.md#time-formats. A value that is not
// a time is reported as timeBad with its text in *bad.
func (d *decoder) readTime(dst *time.Time, state *timeState, bad *string) {
	b, k := d.scalar()
	switch k {
	case 'n':
		return
	case '"':
		if len(trimSpace(b)) == 0 {
			return
		}
		if t, ok := parseTime(b); ok {
			*dst, *state = t, timeOK
			return
		}
	}
	*state = timeBad
	if bad != nil {
		*bad = string(b)
	}
}

// parseIntText parses a decimal integer, or a number with an integral
// value ("50126", "-1", "3.0", "1e3").
func parseIntText(b []byte) (int, bool) {
	if n := len(b); n > 0 && n <= 18 {
		i, neg := 0, false
		if b[0] == '-' {
			i, neg = 1, true
		}
		if i < n {
			v := 0
			for ; i < n; i++ {
				c := b[i]
				if c < '0' || c > '9' {
					goto slow
				}
				v = v*10 + int(c-'0')
			}
			if neg {
				v = -v
			}
			return v, true
		}
	}
slow:
	if len(b) > 0 {
		if v, err := strconv.ParseInt(unsafe.String(&b[0], len(b)), 10, 64); err == nil {
			return int(v), true
		}
	}
	f, ok := parseFloatText(b)
	if !ok || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int(f), true
}

// parseFloatText parses a finite decimal number.
func parseFloatText(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		// Only the JSON number alphabet: no "NaN", "Inf", hex or "_".
		if !('0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// nested decodes JSON held in a string (Log Analytics "dynamic" columns,
// and the rule objects inside ConditionalAccessPolicies), with the lexer
// moved onto that text while fn runs. Text that does not start with { or [
// is not JSON and is left alone (false). Malformed JSON there rejects the
// record, not the message.
func (d *decoder) nested(what string, b []byte, fn func()) bool {
	b = trimSpace(b)
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return false
	}
	const maxNest = 4
	if d.nestDepth >= maxNest {
		d.softf("%s: JSON nested in strings more than %d levels deep", what, maxNest)
		return true
	}
	for len(d.nest) <= d.nestDepth {
		d.nest = append(d.nest, nil)
	}
	buf := append(d.nest[d.nestDepth][:0], b...)
	d.nest[d.nestDepth] = buf
	data, pos := d.data, d.pos
	d.data, d.pos = buf, 0
	d.nestDepth++
	fn()
	d.end()
	d.nestDepth--
	if d.err != nil {
		d.softf("%s: JSON inside the string: %v", what, d.err)
		d.err = nil
	}
	d.data, d.pos = data, pos
	return true
}

// object calls member with the field id (0 when f does not know the
// name) for each member of an object, or of an object held in a string.
// member must consume the value. It returns the kind met: '{' (an object
// was read), 'n' (null), or 0 (anything else, skipped).
func (d *decoder) object(what string, f *fields, member func(id uint8)) byte {
	switch d.peek() {
	case '{':
		h := d.hintsFor(f)
		prev := f.startSlot()
		for more := d.beginObject(); more; more = d.nextMember() {
			slot, id := d.fieldKey(f, h, prev)
			if d.err != nil {
				break
			}
			prev = slot
			member(id)
		}
		return '{'
	case '"':
		var kind byte
		d.nested(what, d.str(), func() { kind = d.object(what, f, member) })
		return kind
	case 'n':
		d.literal()
		return 'n'
	}
	d.skip()
	return 0
}

// hintsFor returns the decoder's member-order hints for f: h[s] is the
// slot of the member that followed slot s the last time.
func (d *decoder) hintsFor(f *fields) []int16 {
	for len(d.hints) <= f.idx {
		d.hints = append(d.hints, nil)
	}
	h := d.hints[f.idx]
	if h == nil {
		h = make([]int16, f.unknownSlot()+1)
		for i := range h {
			h[i] = -1
		}
		d.hints[f.idx] = h
	}
	return h
}

// fieldKey reads a member name and its ':' and resolves it with f. It
// first tries the name that followed prev last time: producers write
// members in a fixed order, so this is usually one comparison, with no
// scan of the name and no hashing. It returns the member's slot (or the
// unknown slot) and field id (0 when unknown).
func (d *decoder) fieldKey(f *fields, h []int16, prev int) (int, uint8) {
	if d.peek() != '"' {
		d.fail("expected string for object key")
		return 0, 0
	}
	slot, id := -1, uint8(0)
	if g := h[prev]; g >= 0 {
		k := f.exact.keys[g]
		start := d.pos + 1
		end := start + len(k)
		if end < len(d.data) && d.data[end] == '"' && string(d.data[start:end]) == k {
			d.pos = end + 1
			slot, id = int(g), f.exact.vals[g]
		}
	}
	if slot < 0 {
		k := d.str()
		if d.err != nil {
			return 0, 0
		}
		if slot = f.exact.slot(k); slot >= 0 {
			id = f.exact.vals[slot]
		} else {
			id, _ = f.foldGet(k)
		}
		h[prev] = int16(slot)
		if slot < 0 {
			slot = f.unknownSlot()
		}
	}
	if d.peek() != ':' {
		d.fail("expected ':' after object key")
		return 0, 0
	}
	d.pos++
	return slot, id
}

// array calls elem for each element of an array, or of an array held in a
// string. It returns '[' , 'n' or 0 like object.
func (d *decoder) array(what string, elem func()) byte {
	switch d.peek() {
	case '[':
		for more := d.beginArray(); more; more = d.nextElement() {
			elem()
		}
		return '['
	case '"':
		var kind byte
		d.nested(what, d.str(), func() { kind = d.array(what, elem) })
		return kind
	case 'n':
		d.literal()
		return 'n'
	}
	d.skip()
	return 0
}

// readStrings reads a list of strings: a JSON array (elements converted
// like readStr), an array held in a string, or a comma-separated string
// ("Password,SMS"). Known values of e (if any) are put in Graph's casing.
func (d *decoder) readStrings(what string, dst *[]string, e *enum) {
	var stack [16]string
	got := stack[:0]
	switch d.peek() {
	case '[':
		for more := d.beginArray(); more; more = d.nextElement() {
			var s string
			if e != nil {
				d.readEnum(&s, e)
			} else {
				d.readStr(&s)
			}
			got = append(got, s)
		}
	case '"':
		b := trimSpace(d.str())
		if len(b) == 0 {
			*dst = nil
			return
		}
		if b[0] == '[' {
			d.nested(what, b, func() { d.readStrings(what, dst, e) })
			return
		}
		for len(b) > 0 {
			part, rest := b, []byte(nil)
			for i, c := range b {
				if c == ',' {
					part, rest = b[:i], b[i+1:]
					break
				}
			}
			if part = trimSpace(part); len(part) > 0 {
				s := ""
				if e != nil {
					s = e.canon(part)
				}
				if s == "" {
					s = d.keep(part)
				}
				got = append(got, s)
			}
			b = rest
		}
	case 'n':
		d.literal()
		*dst = nil
		return
	default:
		d.skip()
		return
	}
	*dst = d.keepStrings(got)
}

// readConditions reads conditionsSatisfied / conditionsNotSatisfied: a comma
// list in any casing, or an integer bit set (as a number or as text).
func (d *decoder) readConditions(dst *string) {
	b, k := d.scalar()
	if k != '"' && k != '0' {
		return
	}
	t := trimSpace(b)
	if v, ok := parseUintText(t); ok {
		*dst = conditionsList(v)
		return
	}
	if k == '0' {
		*dst = d.keep(t) // negative or fractional: keep the text
		return
	}
	if conditionsCanonical(t) {
		if c, ok := enumCondition.exact.get(t); ok {
			*dst = c // a single name: the constant
			return
		}
		*dst = d.keep(t)
		return
	}
	*dst = normaliseConditions(string(t))
}

func parseUintText(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// ---------------------------------------------------------------------------
// Nested types. Their member ids, name tables, member switches and readers
// are generated from the model (decode_gen.go, internal/gen); these are
// the readers a field names in internal/gen/spec.go.

// readLocationOrCountry reads Graph's location object. A plain string there
// is the Azure Monitor record's (or Log Analytics row's) two-letter country.
func (d *decoder) readLocationOrCountry(loc *schemas.Location, m *recordMeta) {
	if d.peek() == '"' {
		b := trimSpace(d.str())
		if len(b) > 0 && b[0] == '{' {
			d.nested("location", b, func() { d.readLocationOrCountry(loc, m) })
		} else {
			m.country = d.keep(b)
		}
		return
	}
	d.readLocation("location", loc)
}

// readOptFloat reads a number that may be absent: null clears it.
func (d *decoder) readOptFloat(dst **float64) {
	if d.peek() == 'n' {
		d.literal()
		*dst = nil
		return
	}
	var f float64
	if d.readFloat(&f) {
		*dst = &f
	}
}

// readStepTime reads authenticationStepDateTime: a step time that is not a
// time is dropped, not fatal.
func (d *decoder) readStepTime(dst *time.Time) {
	var st timeState
	var t time.Time
	if d.readTime(&t, &st, nil); st == timeOK {
		*dst = t
	}
}

// Arrays of objects (or arrays held in a string) are read by one function
// per element type: elements are gathered in a stack array (no GC write
// barriers; the heap past its size) and copied once into an exactly sized
// slice.
// A null element gives a zero element, as with encoding/json; other
// non-objects are skipped. The member calls stay static so that the
// stack array does not escape.

// keepElement drops the last slot of *got, into which an element was just
// decoded, when that element was not an object or null.
func keepElement[T any](got *[]T, kind byte) {
	if kind != '{' && kind != 'n' {
		*got = (*got)[:len(*got)-1]
	}
}

// setSlice stores what an array gave: a copy of got for an array, nil for
// null, nothing otherwise.
func setSlice[T any](dst *[]T, kind byte, got []T) {
	switch kind {
	case '[':
		*dst = append([]T{}, got...)
	case 'n':
		*dst = nil
	}
}

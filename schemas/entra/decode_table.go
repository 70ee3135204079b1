package entra

import "encoding/binary"

// table maps a fixed set of names to values. It is an open-addressing hash
// table with a hash of the length and a few bytes of the key: looking a
// JSON member name up costs a few nanoseconds and allocates nothing.
type table[V any] struct {
	keys []string
	vals []V
	used []bool
	mask uint32
}

func newTable[V any](entries map[string]V) *table[V] {
	size := 16
	for size < 4*len(entries) {
		size *= 2
	}
	t := &table[V]{keys: make([]string, size), vals: make([]V, size), used: make([]bool, size), mask: uint32(size - 1)}
	for k, v := range entries {
		i := hashName([]byte(k)) & t.mask
		for t.used[i] {
			if t.keys[i] == k {
				panic("schemas: duplicate table key " + k)
			}
			i = (i + 1) & t.mask
		}
		t.keys[i], t.vals[i], t.used[i] = k, v, true
	}
	return t
}

func (t *table[V]) get(key []byte) (V, bool) {
	if i := t.slot(key); i >= 0 {
		return t.vals[i], true
	}
	var zero V
	return zero, false
}

// slot returns the index of key, or -1.
func (t *table[V]) slot(key []byte) int {
	i := hashName(key) & t.mask
	for t.used[i] {
		if t.keys[i] == string(key) {
			return int(i)
		}
		i = (i + 1) & t.mask
	}
	return -1
}

// hashName hashes the length and the first, middle and last four bytes.
func hashName(b []byte) uint32 {
	n := len(b)
	h := uint32(n) * 0x9e3779b1
	if n >= 4 {
		h ^= binary.LittleEndian.Uint32(b) * 0x85ebca77
		h ^= binary.LittleEndian.Uint32(b[n-4:]) * 0xc2b2ae3d
		if n >= 12 {
			h ^= binary.LittleEndian.Uint32(b[n/2-2:]) * 0x27d4eb2f
		}
	} else {
		for _, c := range b {
			h = (h ^ uint32(c)) * 0x01000193
		}
	}
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	return h
}

// fields resolves a JSON member name to a field of one type: the exact
// spellings first (Graph's camelCase, Log Analytics' PascalCase), then,
// as encoding/json does, any other casing.
type fields struct {
	exact *table[uint8]
	fold  *table[uint8]
	// idx numbers the field sets; a decoder keeps its member-order hints
	// for set i in hints[i].
	idx int
}

var fieldSets int

// newFields builds the lookup from the exact names. Entries in exactOnly
// match only with that exact casing (Log Analytics columns whose lower-case
// form means something else in Graph, such as TenantId or Location).
func newFields(names map[string]uint8, exactOnly map[string]uint8) fields {
	exact := map[string]uint8{}
	fold := map[string]uint8{}
	for k, v := range names {
		exact[k] = v
		if k != "" && 'a' <= k[0] && k[0] <= 'z' {
			pascal := string(k[0]-'a'+'A') + k[1:]
			if _, clash := exactOnly[pascal]; !clash {
				exact[pascal] = v
			}
		}
		low := lowerASCII(k)
		if old, dup := fold[low]; dup && old != v {
			panic("schemas: field names " + low + " differ only in case")
		}
		fold[low] = v
	}
	for k, v := range exactOnly {
		exact[k] = v
	}
	fieldSets++
	return fields{exact: newTable(exact), fold: newTable(fold), idx: fieldSets - 1}
}

// Member-order hints: the slots after the last slot of the exact table
// stand for "start of the object" and "an unknown member".
func (f *fields) startSlot() int   { return len(f.exact.keys) }
func (f *fields) unknownSlot() int { return len(f.exact.keys) + 1 }

func (f *fields) get(key []byte) (uint8, bool) {
	if id, ok := f.exact.get(key); ok {
		return id, true
	}
	return f.foldGet(key)
}

// foldGet matches key in any casing, and portal-export column suffixes.
func (f *fields) foldGet(key []byte) (uint8, bool) {
	if len(key) > 64 {
		return 0, false
	}
	var buf [64]byte
	low := buf[:len(key)]
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	if id, ok := f.fold.get(low); ok {
		return id, true
	}
	// Portal CSV exports name columns "CreatedDateTime [UTC]" and split
	// dynamic columns into "Status_dynamic" and "Status_string".
	for _, suffix := range [...]string{" [utc]", "_dynamic", "_string"} {
		if n := len(low) - len(suffix); n > 0 && string(low[n:]) == suffix {
			if id, ok := f.fold.get(low[:n]); ok {
				return id, true
			}
		}
	}
	return 0, false
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

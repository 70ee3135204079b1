package loadgen

import "math/bits"

// rng is wyrand: tiny, fast, and fixed here rather than borrowed from
// math/rand, so the stream a seed gives never changes with Go releases.
type rng struct{ s uint64 }

func newRNG(seed int64, stream uint64) *rng {
	r := &rng{s: uint64(seed) ^ stream*0x9e3779b97f4a7c15}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// chance is true with probability p.
func (r *rng) chance(p float64) bool { return p > 0 && r.float() < p }

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// guid is a GUID in its 36-character text form.
type guid [36]byte

func (g guid) String() string { return string(g[:]) }

const hexDigits = "0123456789abcdef"

// newGUID draws a version-4 GUID.
func (r *rng) newGUID() guid {
	a, b := r.next(), r.next()
	a = a&^0xf000 | 0x4000     // version 4
	b = b&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	var g guid
	put := func(at int, v uint64, nibbles int) {
		for i := nibbles - 1; i >= 0; i-- {
			g[at+i] = hexDigits[v&0xf]
			v >>= 4
		}
	}
	put(0, a>>32, 8)
	g[8] = '-'
	put(9, a>>16, 4)
	g[13] = '-'
	put(14, a, 4)
	g[18] = '-'
	put(19, b>>48, 4)
	g[23] = '-'
	put(24, b, 12)
	return g
}

package wire

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"time"
)

// Values the random filler draws strings from: empty, ASCII, multi-byte
// UTF-8, JSON escapes, long.
var sampleStrings = []string{
	"", "a", "50126", "user@contoso.com", "Zürich", "東京都", "🔐 mfa", "quote\" back\\slash\nnewline\ttab",
	"<script>&amp;</script>", "\u2028\u2029", "0", "-1", strings1k,
}

var strings1k = strings.Repeat("abcdefghijklmnopqrstuvwxyz", 40)

var zones = []*time.Location{time.UTC, time.FixedZone("IST", 5*3600+1800), time.FixedZone("west", -7*3600)}

// fillRandom sets every field reachable from v (addressable) to a random
// value: slices nil, empty or up to three long, pointers nil or set,
// times zero or any instant JSON can carry (years 1 to 9999) in any zone.
func fillRandom(r *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		s := sampleStrings[r.IntN(len(sampleStrings))]
		if r.IntN(3) == 0 {
			s += string(rune('A' + r.IntN(26)))
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		switch r.IntN(4) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(int64(r.IntN(100000)))
		case 2:
			v.SetInt(-int64(r.IntN(1000)))
		default:
			v.SetInt(r.Int64() - math.MaxInt64/2)
		}
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Float64:
		switch r.IntN(3) {
		case 0:
			v.SetFloat(0)
		case 1:
			v.SetFloat(r.NormFloat64() * 90)
		default:
			v.SetFloat((r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(600)-300)))
		}
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(randomTime(r)))
			return
		}
		for i := range v.NumField() {
			fillRandom(r, v.Field(i))
		}
	case reflect.Pointer:
		if r.IntN(2) == 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fillRandom(r, v.Elem())
	case reflect.Slice:
		switch n := r.IntN(5); n {
		case 0:
			v.SetZero()
		default:
			v.Set(reflect.MakeSlice(v.Type(), n-1, n-1))
			for i := range n - 1 {
				fillRandom(r, v.Index(i))
			}
		}
	default:
		panic("fillRandom: add a case for " + v.Type().String())
	}
}

func randomTime(r *rand.Rand) time.Time {
	if r.IntN(4) == 0 {
		return time.Time{}
	}
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC).Unix()
	t := time.Unix(lo+r.Int64N(hi-lo), int64(r.IntN(1e9)))
	if r.IntN(2) == 0 {
		t = t.Truncate(time.Millisecond) // what the decoders produce
	}
	return t.In(zones[r.IntN(len(zones))])
}

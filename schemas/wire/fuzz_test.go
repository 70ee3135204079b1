package wire

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// FuzzDecodeEvent: no input may panic the decoder, and whatever decodes
// from the binary format re-encodes to bytes that decode to the same
// encoding (compared as bytes, so NaN coordinates compare equal).
func FuzzDecodeEvent(f *testing.F) {
	for _, fx := range fixtureSignIns(f)[:8] {
		data, _ := AppendEvent(nil, &schemas.Event{SignIn: fx.signIn})
		f.Add(data)
		f.Add(data[:len(data)/2])
		legacy, _ := json.Marshal(schemas.Event{SignIn: fx.signIn})
		f.Add(legacy)
	}
	flag, _ := AppendEvent(nil, &schemas.Event{Flag: &schemas.Flag{ID: "f", FlaggedAt: time.Unix(1e9, 5)}})
	f.Add(flag)
	f.Add([]byte{Version, KindSignIn, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev schemas.Event
		if err := DecodeEvent(b, &ev); err != nil || len(b) == 0 || b[0] != Version {
			return
		}
		first, err := AppendEvent(nil, &ev)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var again schemas.Event
		if err := DecodeEvent(first, &again); err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		second, _ := AppendEvent(nil, &again)
		if !bytes.Equal(first, second) {
			t.Fatalf("unstable round trip:\n%x\n%x", first, second)
		}
	})
}

// FuzzDecodeSprayCandidate: no input may panic the IP-topic decoder.
func FuzzDecodeSprayCandidate(f *testing.F) {
	c := NewSprayCandidate(fixtureSignIns(f)[0].signIn)
	data, _ := AppendSprayCandidate(nil, &c)
	f.Add(data)
	f.Add([]byte(`{"signIn":{"id":"x","ipAddress":"1.2.3.4"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got SprayCandidate
		_ = DecodeSprayCandidate(b, &got)
	})
}

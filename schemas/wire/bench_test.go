package wire

import (
	"encoding/json"
	"testing"

	"github.com/signindiag/signindiag/schemas"
)

// The benchmarks run this codec ("wire") and encoding/json ("json", the
// legacy format) on the same realistic Graph beta sign-ins in one run:
// 3k (3 CA policies) and 11k (23 policies, Entra's average stored size).
// B/event is the message value's size. Compare with -count 6 -cpu 1.
var benchSizes = []string{"3k", "11k"}

func BenchmarkEncodeEvent(b *testing.B) {
	for _, size := range benchSizes {
		ev := schemas.Event{SignIn: benchSignIn(b, size)}
		b.Run(size+"/wire", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = AppendEvent(buf[:0], &ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "B/event")
		})
		b.Run(size+"/json", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = json.Marshal(ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "B/event")
		})
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	for _, size := range benchSizes {
		ev := schemas.Event{SignIn: benchSignIn(b, size)}
		data, err := AppendEvent(nil, &ev)
		if err != nil {
			b.Fatal(err)
		}
		legacy, _ := json.Marshal(ev)
		b.Run(size+"/wire", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var got schemas.Event
				if err := DecodeEvent(data, &got); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size+"/wire_reused", func(b *testing.B) {
			b.ReportAllocs()
			var got schemas.Event
			for b.Loop() {
				if err := DecodeEvent(data, &got); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size+"/json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var got schemas.Event
				if err := json.Unmarshal(legacy, &got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeDecodeEvent is one hop of the user-keyed topic. "wire"
// encodes into a fresh buffer and decodes into a fresh event;
// "wire_reused" appends to a reused batch buffer and decodes into a reused
// event, as the stages can (see DecodeEvent).
func BenchmarkEncodeDecodeEvent(b *testing.B) {
	for _, size := range benchSizes {
		ev := schemas.Event{SignIn: benchSignIn(b, size)}
		b.Run(size+"/wire", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := AppendEvent(nil, &ev)
				var got schemas.Event
				if err != nil || DecodeEvent(data, &got) != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size+"/wire_reused", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			var got schemas.Event
			for b.Loop() {
				var err error
				buf, err = AppendEvent(buf[:0], &ev)
				if err != nil || DecodeEvent(buf, &got) != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size+"/json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := json.Marshal(ev)
				var got schemas.Event
				if err != nil || json.Unmarshal(data, &got) != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeDecodeSprayCandidate is one hop of the IP-keyed topic;
// the json baseline is what that topic carries today, the whole event.
func BenchmarkEncodeDecodeSprayCandidate(b *testing.B) {
	si := benchSignIn(b, "3k")
	b.Run("3k/wire", func(b *testing.B) {
		b.ReportAllocs()
		var data []byte
		for b.Loop() {
			c := NewSprayCandidate(si)
			var err error
			data, err = AppendSprayCandidate(nil, &c)
			var got SprayCandidate
			if err != nil || DecodeSprayCandidate(data, &got) != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "B/event")
	})
	b.Run("3k/json", func(b *testing.B) {
		b.ReportAllocs()
		var data []byte
		for b.Loop() {
			var err error
			data, err = json.Marshal(schemas.Event{SignIn: si})
			var got schemas.Event
			if err != nil || json.Unmarshal(data, &got) != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "B/event")
	})
}

package loadgen

import (
	"testing"
)

// BenchmarkGenerate reports sign-ins/s and MB/s of one generator on one
// core, per shape; run with -cpu 1.
func BenchmarkGenerate(b *testing.B) {
	for _, shape := range []Shape{ShapeGraph, ShapeEventHubs} {
		b.Run(string(shape), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Shape = shape
			g, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			signIns, bytes := 0, int64(0)
			b.ResetTimer()
			for signIns < b.N {
				m, _ := g.Next()
				signIns += len(m.SignInIDs)
				bytes += int64(len(m.Value))
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(signIns)/sec, "events/s")
			b.ReportMetric(float64(bytes)/sec/1e6, "MB/s")
			b.ReportMetric(float64(bytes)/float64(signIns), "bytes/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}

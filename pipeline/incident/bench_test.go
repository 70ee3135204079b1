package incident

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/window"
)

// hotKey is one IP spraying 100 000 users over 100 000 seconds (about 1 200
// in each 20-minute window), delivered as the rekey stage merges 6
// partitions: mostly in order, a few seconds of jitter.
func hotKey(n int) []ev {
	rng := rand.New(rand.NewPCG(7, 8))
	out := make([]ev, n)
	for i := range out {
		at := t0.Add(time.Duration(i)*time.Second + time.Duration(rng.IntN(5000))*time.Millisecond)
		out[i] = ev{key: "203.0.113.9", id: fmt.Sprint("s", i), member: fmt.Sprint("u", i), at: at}
	}
	return out
}

// BenchmarkHotKey compares, in the same run, the incident tracker with the
// per-IP window it replaces (window.Distinct) on one key of 100 000
// events. ns/op is per event.
func BenchmarkHotKey(b *testing.B) {
	const n = 100_000
	events := hotKey(n)
	wall := t0.Add(48 * time.Hour)
	b.Run("tracker", func(b *testing.B) {
		for b.Loop() {
			tr := New(Config{Detection: "password_spray", Window: 20 * time.Minute, Threshold: 5, AllowedLateness: 48 * time.Hour, Distinct: true})
			for i, e := range events {
				tr.Observe(e.key, e.id, e.member, e.at, wall)
				if i%5000 == 0 {
					tr.Evict()
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	})
	b.Run("distinct-window", func(b *testing.B) {
		for b.Loop() {
			d := window.NewDistinct(20*time.Minute, 48*time.Hour)
			for i, e := range events {
				d.Observe(e.key, e.member, e.id, e.at)
				if i%5000 == 0 {
					d.Evict()
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	})
}

// BenchmarkHotKeyLate is BenchmarkHotKey with every event delivered up to
// 10 minutes late (delivery in arrival order): the worst realistic case
// for the sorted insert, which moves the events after the late one.
func BenchmarkHotKeyLate(b *testing.B) {
	const n = 100_000
	events := hotKey(n)
	rng := rand.New(rand.NewPCG(9, 10))
	arrival := make([]time.Time, n)
	for i, e := range events {
		arrival[i] = e.at.Add(time.Duration(rng.IntN(600_000)) * time.Millisecond)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return arrival[idx[a]].Before(arrival[idx[b]]) })
	delivered := make([]ev, n)
	for i, j := range idx {
		delivered[i] = events[j]
	}
	wall := t0.Add(48 * time.Hour)
	for b.Loop() {
		tr := New(Config{Detection: "password_spray", Window: 20 * time.Minute, Threshold: 5, AllowedLateness: 48 * time.Hour, Distinct: true})
		for i, e := range delivered {
			tr.Observe(e.key, e.id, e.member, e.at, wall)
			if i%5000 == 0 {
				tr.Evict()
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

// BenchmarkHotKeyBruteForce: one address trying one account 100 000 times
// in 100 000 seconds, with four other accounts now and then, delivered
// with jitter: every window holds hundreds of events of the same member.
func BenchmarkHotKeyBruteForce(b *testing.B) {
	const n = 100_000
	events := hotKey(n)
	for i := range events {
		events[i].member = "victim"
		if i%1000 == 0 {
			events[i].member = fmt.Sprint("other", i/1000%4)
		}
	}
	wall := t0.Add(48 * time.Hour)
	for b.Loop() {
		tr := New(Config{Detection: "password_spray", Window: 20 * time.Minute, Threshold: 5, AllowedLateness: 48 * time.Hour, Distinct: true})
		for i, e := range events {
			tr.Observe(e.key, e.id, e.member, e.at, wall)
			if i%5000 == 0 {
				tr.Evict()
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

// BenchmarkMemoryPerKey measures the heap held by 1 000 000 keys (users)
// with k events each, as bytes per key and per entry.
func BenchmarkMemoryPerKey(b *testing.B) {
	for _, k := range []int{1, 10} {
		b.Run(fmt.Sprintf("events=%d", k), func(b *testing.B) {
			const keys = 1_000_000
			wall := t0.Add(time.Hour)
			names := make([]string, keys)
			for i := range names {
				names[i] = fmt.Sprintf("user%07d@contoso.example", i)
			}
			var perKey, perEntry float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				tr := New(Config{Detection: "excessive_failures_48h", Window: 48 * time.Hour, Threshold: 10, AllowedLateness: 48 * time.Hour})
				for j := range k {
					for i, name := range names {
						tr.Observe(name, fmt.Sprint(j), fmt.Sprint(j), t0.Add(time.Duration(j*keys+i)*time.Millisecond), wall)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				held := float64(after.HeapAlloc - before.HeapAlloc)
				perKey, perEntry = held/keys, held/float64(keys*k)
				runtime.KeepAlive(tr)
			}
			b.ReportMetric(perKey, "B/key")
			b.ReportMetric(perEntry, "B/entry")
		})
	}
}

package sqlite_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signindiag/signindiag/loadgen"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/entra"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/sqlite"
)

const (
	benchBatch = 5000
	benchPool  = 50_000
)

// benchSignIns are loadgen's sign-ins (a default tenant's mix of shapes,
// failures and attacks) as the pipeline decodes them.
var benchSignIns = sync.OnceValues(func() ([]schemas.SignIn, error) {
	cfg := loadgen.DefaultConfig()
	cfg.Count = benchPool
	cfg.FlagRate, cfg.DuplicateRate = 0, 0
	g, err := loadgen.New(cfg)
	if err != nil {
		return nil, err
	}
	var out []schemas.SignIn
	for {
		m, ok := g.Next()
		if !ok {
			return out, nil
		}
		if m.Topic != loadgen.TopicSignIns {
			continue
		}
		records, err := entra.DecodeSignIns(m.Value)
		if err != nil {
			return nil, err
		}
		for _, r := range records {
			if r.Err == nil {
				out = append(out, *r.SignIn)
			}
		}
	}
})

// benchBatchOf is the i-th batch of the benchmark: sign-ins of the pool
// under ids never written before, with their wire documents (as the
// pipeline hands them over), a finding per failure and a watermark.
func benchBatchOf(b *testing.B, pool []schemas.SignIn, i int) *sinks.Batch {
	b.Helper()
	batch := &sinks.Batch{SignIns: make([]sinks.SignInRecord, 0, benchBatch)}
	var latest time.Time
	for j := range benchBatch {
		n := i*benchBatch + j
		si := pool[n%len(pool)]
		si.ID = fmt.Sprintf("%s-%d", si.ID, n/len(pool))
		doc, err := wire.AppendEvent(nil, &schemas.Event{SignIn: &si})
		if err != nil {
			b.Fatal(err)
		}
		failed := si.Status.ErrorCode != 0 && si.Status.ErrorCode != 50074
		batch.SignIns = append(batch.SignIns, sinks.SignInRecord{SignIn: si, IsFailure: failed, Shard: n % 4, Offset: int64(n), Doc: doc})
		if failed {
			batch.Findings = append(batch.Findings, schemas.Finding{ID: schemas.FindingID("bench", si.ID), SignInID: si.ID,
				CorrelationID: si.CorrelationID, UserID: si.UserID, OccurredAt: si.CreatedDateTime, Scenario: "invalid_credentials",
				Severity: "low", Title: "Wrong password", Recommendations: []string{"reset"}, ErrorCode: si.Status.ErrorCode, UserKey: si.UserKey()})
		}
		if si.CreatedDateTime.After(latest) {
			latest = si.CreatedDateTime
		}
	}
	for shard := range 4 {
		batch.Watermarks = append(batch.Watermarks, sinks.WatermarkRecord{Stage: sinks.WindowUsers, Shard: shard,
			Offset: int64((i+1)*benchBatch - 1), At: latest})
	}
	return batch
}

// cpuTime is the CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWrite writes batches of 5 000 new sign-ins, each batch one
// durable transaction (fsynced before Write returns), and reports sign-ins/s.
func BenchmarkWrite(b *testing.B) { benchWrite(b, 1) }

// BenchmarkWriteConcurrent writes the same 5 000 sign-ins per operation as
// four batches at once, as four partitions flushing together do.
//
// Both start from an empty store, or from a copy of the store file that
// SIGNINDIAG_BENCH_SQLITE_BASE names (one `signindiag ingest` filled, say):
// what a commit costs depends on how large the indexes it changes are.
func BenchmarkWriteConcurrent(b *testing.B) { benchWrite(b, 4) }

func benchWrite(b *testing.B, writers int) {
	pool, err := benchSignIns()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "bench.db")
	if base := os.Getenv("SIGNINDIAG_BENCH_SQLITE_BASE"); base != "" {
		copyFile(b, base, path)
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var written int
	var cpu time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		batch := benchBatchOf(b, pool, i)
		parts := split(batch, writers)
		before := cpuTime(b)
		b.StartTimer()
		errs := make([]error, len(parts))
		var wg sync.WaitGroup
		for j, part := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[j] = s.Write(ctx, part)
			}()
		}
		wg.Wait()
		b.StopTimer()
		cpu += cpuTime(b) - before
		b.StartTimer()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		written += len(batch.SignIns)
	}
	b.ReportMetric(float64(written)/b.Elapsed().Seconds(), "signins/s")
	// On a shared machine the wall time says more about the neighbours
	// than about the store: sign-ins per second of the process's CPU.
	b.ReportMetric(float64(written)/cpu.Seconds(), "signins/cpu-s")
}

// copyFile copies a store file that no process has open (so its log is
// empty) to dst.
func copyFile(b *testing.B, src, dst string) {
	b.Helper()
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// split cuts a batch's sign-ins into n batches (the first keeps the rest).
func split(b *sinks.Batch, n int) []*sinks.Batch {
	if n == 1 {
		return []*sinks.Batch{b}
	}
	out := make([]*sinks.Batch, n)
	size := (len(b.SignIns) + n - 1) / n
	for i := range out {
		out[i] = &sinks.Batch{SignIns: b.SignIns[min(i*size, len(b.SignIns)):min((i+1)*size, len(b.SignIns))]}
	}
	out[0].Findings, out[0].Watermarks = b.Findings, b.Watermarks
	return out
}

// BenchmarkLookupByCorrelation looks sign-ins up by correlation id in a
// file of 100 000 sign-ins and reports the 99th percentile.
func BenchmarkLookupByCorrelation(b *testing.B) {
	pool, err := benchSignIns()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "bench.db")}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	var corrs []string
	for i := range 20 {
		batch := benchBatchOf(b, pool, i)
		if err := s.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
		for _, r := range batch.SignIns[:50] {
			corrs = append(corrs, r.SignIn.CorrelationID)
		}
	}
	var took []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		got, err := s.SignIns(ctx, sinks.SignInQuery{CorrelationID: corrs[i%len(corrs)], Limit: 100})
		took = append(took, time.Since(start))
		if err != nil || len(got) == 0 {
			b.Fatalf("lookup %d: %d sign-ins, %v", i, len(got), err)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}

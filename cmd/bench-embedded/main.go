// Command bench-embedded measures the embedded path (issue: one command,
// nothing but Go): `signindiag ingest --input FILE` of realistic Graph
// sign-ins into the SQLite store, timed from start to exit (every sign-in
// durable), with the CPU and peak memory of the process; then, on the
// store it filled, `signindiag serve` answering /v1/diagnose by
// correlationId, p50 and p99 over sequential requests. Figures are
// medians of several runs; see BENCHMARKS.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/signindiag/signindiag/internal/freeport"
	"github.com/signindiag/signindiag/loadgen"
)

type options struct {
	events, runs, lookups int
	binary, baseline, dir string
	keep                  bool
}

func main() {
	var o options
	flag.IntVar(&o.events, "events", 1_000_000, "Graph sign-ins in the input file")
	flag.IntVar(&o.runs, "runs", 3, "ingest runs, each into a fresh store; figures are medians")
	flag.IntVar(&o.lookups, "lookups", 2000, "sequential lookups by correlationId on the last run's store")
	flag.StringVar(&o.binary, "binary", "bin/signindiag", "the signindiag binary")
	flag.StringVar(&o.baseline, "baseline", "", "another signindiag binary, run before each run of -binary on the same input (pairs)")
	flag.StringVar(&o.dir, "dir", "bin/bench-embedded", "working directory (input file, stores)")
	flag.BoolVar(&o.keep, "keep", false, "keep the last store")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), o, log); err != nil {
		log.Error("bench-embedded failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	if err := os.MkdirAll(o.dir, 0o750); err != nil {
		return err
	}
	input := filepath.Join(o.dir, fmt.Sprintf("graph-%d.jsonl", o.events))
	size, err := ensureInput(input, o.events, log)
	if err != nil {
		return err
	}
	fmt.Printf("input: %s, %d sign-ins, %.0f MB (%.0f bytes per message)\n", input, o.events, float64(size)/1e6, float64(size)/float64(o.events))
	var results, baseline []ingestResult
	var store string
	for i := range o.runs {
		if o.baseline != "" {
			r, err := ingestRun(ctx, o.baseline, input, filepath.Join(o.dir, "store-baseline"), o.events, fmt.Sprintf("run %d, baseline", i+1))
			if err != nil {
				return err
			}
			baseline = append(baseline, r)
		}
		store = filepath.Join(o.dir, fmt.Sprintf("store-%d", i))
		r, err := ingestRun(ctx, o.binary, input, store, o.events, fmt.Sprintf("run %d", i+1))
		if err != nil {
			return err
		}
		results = append(results, r)
		if i < o.runs-1 {
			_ = os.RemoveAll(store)
		}
	}
	_ = os.RemoveAll(filepath.Join(o.dir, "store-baseline"))
	if len(baseline) > 0 {
		printMedians("ingest, baseline", baseline, o.events)
	}
	printMedians("ingest", results, o.events)
	if len(baseline) > 0 {
		ratios := make([]ingestResult, len(results))
		for i := range results {
			// A pair's ratio of sign-ins/s: the baseline's time over this one's.
			ratios[i].wall = time.Duration(float64(time.Second) * baseline[i].wall.Seconds() / results[i].wall.Seconds())
		}
		fmt.Printf("pair by pair, median of %d: %.2fx the baseline's sign-ins/s\n", len(ratios),
			median(ratios, func(r ingestResult) float64 { return r.wall.Seconds() }))
	}

	ids, err := sampleCorrelationIDs(input, o.lookups)
	if err != nil {
		return err
	}
	p50, p99, err := lookups(ctx, o.binary, store, ids)
	if err != nil {
		return err
	}
	fmt.Printf("lookups by correlationId through the API, %d sequential at %d stored sign-ins: p50 %.2f ms, p99 %.2f ms\n",
		len(ids), o.events, p50, p99)
	if !o.keep {
		_ = os.RemoveAll(store)
	}
	return nil
}

// ensureInput writes the generator's Graph sign-ins (seed 7, no flags) to
// path unless a file of that name exists.
func ensureInput(path string, n int, log *slog.Logger) (int64, error) {
	if st, err := os.Stat(path); err == nil {
		return st.Size(), nil
	}
	cfg := loadgen.DefaultConfig()
	cfg.Seed, cfg.Count, cfg.Shape, cfg.FlagRate = 7, n, loadgen.ShapeGraph, 0
	gen, err := loadgen.New(cfg)
	if err != nil {
		return 0, err
	}
	log.Info("generating the input", "path", path, "signins", n)
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for {
		m, ok := gen.Next()
		if !ok {
			break
		}
		if m.Topic != loadgen.TopicSignIns {
			continue
		}
		// A bufio.Writer keeps its first error: Flush reports it.
		_, _ = w.Write(m.Value)
		_ = w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

type ingestResult struct {
	wall, cpu time.Duration
	maxRSS    int64
	storeSize int64 // bytes of the store's directory once ingested
}

// ingestRun runs one ingest into a fresh store and prints its figures.
func ingestRun(ctx context.Context, binary, input, store string, events int, label string) (ingestResult, error) {
	_ = os.RemoveAll(store)
	r, err := ingest(ctx, binary, input, store)
	if err != nil {
		return r, err
	}
	if r.storeSize, err = dirSize(store); err != nil {
		return r, err
	}
	fmt.Printf("%s: %s, %.0f sign-ins/s, %.1f CPU-µs per sign-in, peak RSS %d MB, store %d MB\n", label,
		r.wall.Round(time.Millisecond), float64(events)/r.wall.Seconds(), r.cpu.Seconds()*1e6/float64(events), r.maxRSS>>20, r.storeSize>>20)
	return r, nil
}

func printMedians(label string, rs []ingestResult, events int) {
	wall := median(rs, func(r ingestResult) float64 { return r.wall.Seconds() })
	cpu := median(rs, func(r ingestResult) float64 { return r.cpu.Seconds() })
	rss := median(rs, func(r ingestResult) float64 { return float64(r.maxRSS >> 20) })
	size := median(rs, func(r ingestResult) float64 { return float64(r.storeSize >> 20) })
	fmt.Printf("%s, median of %d: %.1f s, %.0f sign-ins/s, %.1f CPU-µs per sign-in, peak RSS %.0f MB, store %.0f MB\n",
		label, len(rs), wall, float64(events)/wall, cpu*1e6/float64(events), rss, size)
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}

// storeEnv runs signindiag on the SQLite store in dir, whatever the
// caller's environment says.
func storeEnv(dir string) []string {
	return append(os.Environ(), "SIGNINDIAG_STORE=sqlite", "SIGNINDIAG_DATA_DIR="+dir,
		// The generator's sign-ins are from March 2025.
		"SIGNINDIAG_MAX_EVENT_AGE=87600h", "SIGNINDIAG_SPIKES_DETECT=false", "SIGNINDIAG_LOG_LEVEL=warn")
}

func ingest(ctx context.Context, binary, input, dir string) (ingestResult, error) {
	cmd := exec.CommandContext(ctx, binary, "ingest", "--input", input) //nolint:gosec // the binary under test, named by a flag
	cmd.Env = storeEnv(dir)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return ingestResult{}, fmt.Errorf("ingest: %w\n%s", err, stderr.String())
	}
	wall := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return ingestResult{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), maxRSS: ru.Maxrss << 10}, nil
}

// sampleCorrelationIDs picks n lines of the input at random and returns
// their correlationIds.
func sampleCorrelationIDs(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(7, 7)) //nolint:gosec // seeded on purpose: the same sample every run
	var ids []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	seen := 0
	for sc.Scan() {
		seen++
		// Reservoir sampling: every line equally likely.
		j := len(ids)
		if len(ids) >= n {
			j = r.IntN(seen)
			if j >= n {
				continue
			}
		}
		var si struct {
			CorrelationID string `json:"correlationId"`
		}
		if err := json.Unmarshal(sc.Bytes(), &si); err != nil || si.CorrelationID == "" {
			continue
		}
		if j == len(ids) {
			ids = append(ids, si.CorrelationID)
		} else {
			ids[j] = si.CorrelationID
		}
	}
	return ids, sc.Err()
}

func lookups(ctx context.Context, binary, dir string, ids []string) (p50, p99 float64, err error) {
	addr, err := freeport.Addr()
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.CommandContext(ctx, binary, "serve") //nolint:gosec // the binary under test, named by a flag
	cmd.Env = append(storeEnv(dir), "SIGNINDIAG_HTTP_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("serve not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var ms []float64
	found := 0
	for _, id := range ids {
		start := time.Now()
		resp, err := http.Get(base + "/v1/diagnose?correlationId=" + id)
		if err != nil {
			return 0, 0, err
		}
		var d struct {
			AuthenticationSummary []json.RawMessage `json:"authenticationSummary"`
		}
		err = json.NewDecoder(resp.Body).Decode(&d)
		_ = resp.Body.Close()
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("lookup %s: %d %v", id, resp.StatusCode, err)
		}
		if len(d.AuthenticationSummary) > 0 {
			found++
		}
	}
	if found != len(ids) {
		return 0, 0, fmt.Errorf("%d of %d correlationIds found: the store is incomplete", found, len(ids))
	}
	slices.Sort(ms)
	return ms[len(ms)/2], ms[(len(ms)*99)/100], nil
}

func median(rs []ingestResult, f func(ingestResult) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

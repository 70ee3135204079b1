package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/signindiag/signindiag/loadgen"
	"github.com/signindiag/signindiag/pipeline/diagnose"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/pipeline/spray"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/entra"
	"github.com/signindiag/signindiag/schemas/wire"
	chstore "github.com/signindiag/signindiag/sinks/clickhouse"
)

// The load runs the pipeline's own stages (diagnose per user shard, spray
// per IP shard) over the generator's stream, without Kafka: what reaches
// ClickHouse is what `signindiag run` would store for the same stream,
// through the same writer, in the same batches.
const (
	userShards = 4
	ipShards   = 2
	flushEvery = 20000
)

// stageRecord is one record for a stage's goroutine.
type stageRecord struct {
	value []byte
}

func load(ctx context.Context, o options, store *chstore.Store, log *slog.Logger) error {
	cfg := loadgen.DefaultConfig()
	cfg.Seed = 11
	cfg.Count = o.events
	cfg.Users = o.users
	cfg.Apps = o.apps
	cfg.Span = o.span
	cfg.Start = o.start
	cfg.Shape = loadgen.ShapeGraph
	cfg.FlagRate = o.flagRate
	gen, err := loadgen.New(cfg)
	if err != nil {
		return err
	}
	cat := catalog.Default()
	dets := rules.Detections(nil)
	sprayRule := rules.NewSprayRule(rules.DefaultSprayConfig())
	engine := rules.NewEngine(rules.Config{}, cat)

	users := make([]chan []stageRecord, userShards)
	ips := make([]chan []stageRecord, ipShards)
	g, gctx := errgroup.WithContext(ctx)
	for i := range users {
		users[i] = make(chan []stageRecord, 4)
		proc := diagnose.NewProcessor(diagnose.Config{Window: 48 * time.Hour, AllowedLateness: 48 * time.Hour,
			Detections: dets, FutureSkew: 5 * time.Minute}, i, store, engine, cat, counters{})
		g.Go(func() error { return runStage(gctx, users[i], proc, proc.Flush) })
	}
	for i := range ips {
		ips[i] = make(chan []stageRecord, 4)
		proc := spray.NewProcessor(spray.Config{Detections: dets, AllowedLateness: 48 * time.Hour, FutureSkew: 5 * time.Minute},
			i, store, counters{})
		g.Go(func() error { return runStage(gctx, ips[i], proc, proc.Flush) })
	}
	g.Go(func() error {
		defer func() {
			for _, c := range users {
				close(c)
			}
			for _, c := range ips {
				close(c)
			}
		}()
		const chunk = 2000
		userBuf := make([][]stageRecord, userShards)
		ipBuf := make([][]stageRecord, ipShards)
		send := func(c chan []stageRecord, recs []stageRecord) error {
			select {
			case c <- recs:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		start := time.Now()
		n := 0
		for {
			m, ok := gen.Next()
			if !ok {
				break
			}
			events, sprays, err := decode(m, sprayRule)
			if err != nil {
				return err
			}
			for _, e := range events {
				s := shardOf(e.key, userShards)
				userBuf[s] = append(userBuf[s], stageRecord{e.value})
				if len(userBuf[s]) >= chunk {
					if err := send(users[s], userBuf[s]); err != nil {
						return err
					}
					userBuf[s] = nil
				}
			}
			for _, e := range sprays {
				s := shardOf(e.key, ipShards)
				ipBuf[s] = append(ipBuf[s], stageRecord{e.value})
				if len(ipBuf[s]) >= chunk {
					if err := send(ips[s], ipBuf[s]); err != nil {
						return err
					}
					ipBuf[s] = nil
				}
			}
			if n++; n%500000 == 0 {
				log.Info("loading", "messages", n, "sign-ins", gen.Stats().SignIns, "elapsed", time.Since(start).Round(time.Second))
			}
		}
		for s, b := range userBuf {
			if err := send(users[s], b); err != nil {
				return err
			}
		}
		for s, b := range ipBuf {
			if err := send(ips[s], b); err != nil {
				return err
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	st := gen.Stats()
	log.Info("loaded", "sign-ins", st.SignIns, "flags", st.Flags, "duplicates", st.Duplicates)
	return nil
}

// processor is a stage of the pipeline.
type processor interface {
	Process(ctx context.Context, rec source.Record) error
}

func runStage(ctx context.Context, in chan []stageRecord, proc processor, flush func(context.Context) error) error {
	var offset int64
	pending := 0
	for recs := range in {
		for _, r := range recs {
			offset++
			if err := proc.Process(ctx, source.Record{Offset: offset, Value: r.value}); err != nil {
				return err
			}
			if pending++; pending >= flushEvery {
				if err := flush(ctx); err != nil {
					return err
				}
				pending = 0
			}
		}
	}
	return flush(ctx)
}

type keyed struct {
	key   string
	value []byte
}

// decode does what the rekey stage does: a sign-in or flag message
// becomes keyed internal events, failed sign-ins with a spray code also a
// spray candidate keyed by IP.
func decode(m loadgen.Message, sprayRule *rules.SprayRule) (events, sprays []keyed, err error) {
	if m.Topic == loadgen.TopicFlags {
		f, err := entra.DecodeFlag(m.Value)
		if err != nil {
			return nil, nil, fmt.Errorf("decode flag: %w", err)
		}
		v, err := wire.AppendEvent(nil, &schemas.Event{Flag: f})
		if err != nil {
			return nil, nil, err
		}
		return []keyed{{f.UserKey(), v}}, nil, nil
	}
	decoded, err := entra.DecodeSignIns(m.Value)
	if err != nil {
		return nil, nil, fmt.Errorf("decode sign-ins: %w", err)
	}
	for _, d := range decoded {
		if d.Err != nil {
			return nil, nil, fmt.Errorf("decode sign-in: %w", d.Err)
		}
		v, err := wire.AppendEvent(nil, &schemas.Event{SignIn: d.SignIn})
		if err != nil {
			return nil, nil, err
		}
		events = append(events, keyed{d.SignIn.UserKey(), v})
		if sprayRule.Candidate(d.SignIn) {
			c := wire.NewSprayCandidate(d.SignIn)
			v, err := wire.AppendSprayCandidate(nil, &c)
			if err != nil {
				return nil, nil, err
			}
			sprays = append(sprays, keyed{d.SignIn.IPAddress, v})
		}
	}
	return events, sprays, nil
}

func shardOf(key string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key)) // hash.Hash never returns an error
	return int(h.Sum32() % uint32(n))
}

// counters discards the stages' metrics.
type counters struct{}

func (counters) SignIn()               {}
func (counters) Flag()                 {}
func (counters) Finding(string)        {}
func (counters) Late()                 {}
func (counters) WindowChange(int, int) {}
func (counters) Malformed()            {}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/signindiag/signindiag/loadgen"
)

// chunkBytes is how much one sink call takes: a few produce batches, so
// each request in flight is worth its round trip.
const chunkBytes = 4 << 20

// sendLoad generates the stream and hands it to the sink in chunks, paced
// to o.rate sign-ins a second when set, until the stream ends, the
// duration is up, or ctx is cancelled.
func sendLoad(ctx context.Context, o *loadgenOptions, s sink, log *slog.Logger) (*summary, error) {
	gen, err := loadgen.New(o.gen)
	if err != nil {
		return &summary{}, err
	}
	cfg := gen.Config()
	log.Info("loadgen: generating", "seed", cfg.Seed, "count", o.count, "duration", o.duration, "rate", o.rate,
		"shape", cfg.Shape, "users", cfg.Users, "start", cfg.Start, "span", cfg.Span)
	sum := &summary{}
	began := time.Now()
	var stopAt time.Time
	if o.duration > 0 {
		stopAt = began.Add(o.duration)
	}
	pace := newPacer(o.rate, cfg.RecordsPerBatch)

	g, gctx := errgroup.WithContext(ctx)
	chunks := make(chan []loadgen.Message, s.Parallel())
	for range s.Parallel() {
		g.Go(func() error {
			for c := range chunks {
				if err := s.Write(gctx, c); err != nil {
					return err
				}
				sum.add(c)
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(chunks)
		var chunk []loadgen.Message
		size, lastFlush := 0, time.Now()
		flush := func() bool {
			if len(chunk) == 0 {
				return true
			}
			select {
			case chunks <- chunk:
			case <-gctx.Done():
				return false
			}
			chunk, size, lastFlush = nil, 0, time.Now()
			return true
		}
		for gctx.Err() == nil && (stopAt.IsZero() || time.Now().Before(stopAt)) {
			m, ok := gen.Next()
			if !ok {
				break
			}
			if err := pace.wait(gctx, len(m.SignInIDs)); err != nil {
				break
			}
			chunk = append(chunk, m)
			size += len(m.Value)
			// Paced runs flush often, so the output flows at the rate.
			if (size >= chunkBytes || o.rate > 0 && time.Since(lastFlush) > 100*time.Millisecond) && !flush() {
				break
			}
		}
		flush()
		return nil
	})
	err = g.Wait()
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w", ctx.Err())
	}
	sum.seconds = time.Since(began).Seconds()
	return sum, err
}

// pacer is a token bucket over sign-ins: it allows a burst of a tenth of
// a second (at least one message) and otherwise the rate.
type pacer struct {
	rate, burst, tokens float64
	last                time.Time
}

func newPacer(rate float64, perMessage int) *pacer {
	burst := max(rate/10, float64(perMessage))
	return &pacer{rate: rate, burst: burst, tokens: burst, last: time.Now()}
}

func (p *pacer) wait(ctx context.Context, n int) error {
	if p.rate <= 0 {
		return nil
	}
	now := time.Now()
	p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate) - float64(n)
	p.last = now
	if p.tokens >= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(-p.tokens / p.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

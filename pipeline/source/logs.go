package source

import (
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"
)

// kafka-go (v0.4.x) reports through its loggers only; these are the
// messages (format strings, matched exactly) that tell a partition reader
// skipped records because its offset fell off the log's retention.
const (
	// Logger: a (re)connecting reader asks for an offset...
	fmtInitializing = "initializing kafka reader for partition %d of %s starting at offset %d"
	// ...and seeks to the log start instead when the offset is below it.
	fmtSeeking = "the kafka reader for partition %d of %s is seeking to offset %d"
	// ErrorLogger: a fetch got OffsetOutOfRange below the log start.
	fmtBeforeFirst = "the kafka reader is reading before the first offset for partition %d of %s, skipping from offset %d to %d (%d messages)"
)

// warnEvery bounds how often one kind of kafka-go error is logged.
const warnEvery = 10 * time.Second

// limitedWarn logs kafka-go's errors at WARN, each format at most once per
// warnEvery (a broker away makes the group log every second); the next
// line says how many were suppressed.
type limitedWarn struct {
	log   *slog.Logger
	now   func() time.Time
	every time.Duration

	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

func newLimitedWarn(log *slog.Logger) *limitedWarn {
	return &limitedWarn{log: log, now: time.Now, every: warnEvery, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// Printf implements kafka.Logger.
func (w *limitedWarn) Printf(msg string, args ...any) {
	now := w.now()
	w.mu.Lock()
	if t, ok := w.last[msg]; ok && now.Sub(t) < w.every {
		w.suppressed[msg]++
		w.mu.Unlock()
		return
	}
	n := w.suppressed[msg]
	delete(w.suppressed, msg)
	w.last[msg] = now
	w.mu.Unlock()
	attrs := []any{"source", "kafka-go"}
	if n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	w.log.Warn(fmt.Sprintf(msg, args...), attrs...)
}

// readerLogs watches one partition reader's log lines for offset resets.
type readerLogs struct {
	topic     string
	partition int
	log       *slog.Logger
	warn      *limitedWarn
	onReset   func(skipped int64)

	mu        sync.Mutex
	requested int64 // offset of the last (re)connection, -1 when unknown
}

func newReaderLogs(topic string, partition int, log *slog.Logger, warn *limitedWarn, onReset func(int64)) *readerLogs {
	return &readerLogs{topic: topic, partition: partition, log: log, warn: warn, onReset: onReset, requested: -1}
}

// info implements the reader's Logger: it only looks for resets.
func (l *readerLogs) info(msg string, args ...any) {
	switch msg {
	case fmtInitializing:
		off, ok := offsetArg(args, 2)
		if !ok {
			off = -1 // FirstOffset or LastOffset: whatever it seeks to is no reset
		}
		l.mu.Lock()
		l.requested = off
		l.mu.Unlock()
	case fmtSeeking:
		to, ok := offsetArg(args, 2)
		l.mu.Lock()
		from := l.requested
		l.requested = -1
		l.mu.Unlock()
		if ok && from >= 0 && to > from {
			l.reset(from, to, to-from)
		}
	}
}

// errorf implements the reader's ErrorLogger.
func (l *readerLogs) errorf(msg string, args ...any) {
	if msg == fmtBeforeFirst {
		from, ok1 := offsetArg(args, 2)
		to, ok2 := offsetArg(args, 3)
		if ok1 && ok2 {
			l.reset(from, to, to-from)
			return
		}
	}
	l.warn.Printf(msg, args...)
}

func (l *readerLogs) reset(from, to, skipped int64) {
	l.log.Warn("offset fell off the log's retention; skipping ahead to the oldest record kept (those records are lost to this stage)",
		"topic", l.topic, "partition", l.partition, "from", from, "to", to, "skipped", skipped)
	if l.onReset != nil {
		l.onReset(skipped)
	}
}

// offsetArg reads args[i] as an offset: kafka-go passes int64 or its own
// int64 type (humanOffset); negative values are its FirstOffset and
// LastOffset markers, not offsets.
func offsetArg(args []any, i int) (int64, bool) {
	if i >= len(args) {
		return 0, false
	}
	v := reflect.ValueOf(args[i])
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := v.Int()
		return n, n >= 0
	}
	return 0, false
}

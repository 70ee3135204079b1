package deadletter

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"
)

// FileSink writes dead letters to a file, one JSON object per line, for
// the paths without Kafka (run --input, demo): the reason and error
// headers, where the record came from, and the record itself (as text
// when it is UTF-8, else base64), so nothing is dropped silently and an
// operator can fix and replay it.
type FileSink struct {
	path string
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	// counts are the dead letters written, by reason.
	counts map[string]int
}

// FileEntry is one line of a FileSink's file.
type FileEntry struct {
	At              time.Time `json:"at"`
	Topic           string    `json:"topic"`
	Reason          string    `json:"reason"`
	Error           string    `json:"error"`
	SourceTopic     string    `json:"sourceTopic,omitempty"`
	SourcePartition string    `json:"sourcePartition,omitempty"`
	SourceOffset    string    `json:"sourceOffset,omitempty"`
	Truncated       string    `json:"truncatedFrom,omitempty"`
	Value           string    `json:"value,omitempty"`
	ValueBase64     string    `json:"valueBase64,omitempty"`
}

// OpenFileSink appends to path, creating it.
func OpenFileSink(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	return &FileSink{path: path, f: f, w: bufio.NewWriter(f), counts: map[string]int{}}, nil
}

// WriteDeadLetters appends msgs and syncs the file: a dead letter is
// durable before the offset of its record is committed, as on Kafka.
func (s *FileSink) WriteDeadLetters(msgs []kafka.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		e := entry(m)
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := s.w.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("dead-letter file %s: %w", s.path, err)
		}
		s.counts[e.Reason]++
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("dead-letter file %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("dead-letter file %s: %w", s.path, err)
	}
	return nil
}

func entry(m kafka.Message) FileEntry {
	e := FileEntry{At: time.Now().UTC(), Topic: m.Topic, Reason: Header(m, HeaderReason), Error: Header(m, HeaderError),
		SourceTopic: Header(m, HeaderSourceTopic), SourcePartition: Header(m, HeaderSourcePartition),
		SourceOffset: Header(m, HeaderSourceOffset), Truncated: Header(m, HeaderTruncated)}
	if utf8.Valid(m.Value) {
		e.Value = string(m.Value)
	} else {
		e.ValueBase64 = base64.StdEncoding.EncodeToString(m.Value)
	}
	return e
}

// Counts returns the dead letters written so far, by reason.
func (s *FileSink) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Path is the file written.
func (s *FileSink) Path() string { return s.path }

// Close closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Flush(); err != nil {
		_ = s.f.Close() // the flush's error is the one to report
		return err
	}
	return s.f.Close()
}

package input

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// FileStats counts what a file gave.
type FileStats struct {
	Path     string
	Messages int
	Bytes    int64
}

// splitAbove: a container of records larger than this ({"value":[…]} of a
// Graph export, {"records":[…]} of an Event Hubs capture, a Log Analytics
// array) is split into messages of splitRecords records. The sign-in
// topic takes a message of many records, but not of any size: the split
// keeps each below its limit, as Event Hubs' own batches are.
const (
	splitAbove   = 256 << 10
	splitRecords = 100
)

// ReadFile publishes the messages of one file ("-": standard input) to
// topic. The shape is told from the content:
//   - one JSON value per line (JSON Lines, as Event Hubs captures and our
//     own exports are): each line is a message, and a line that is not a
//     sign-in is dead-lettered by the stages with its reason, as on Kafka;
//   - JSON documents (a Graph list response, an Event Hubs capture, a
//     Log Analytics export as an array), possibly pretty-printed and
//     concatenated: each is a message, large ones split;
//   - anything else is read line by line, so the stages dead-letter what
//     they cannot use rather than the reader dropping it.
//
// With follow, the end of the file is waited on for more (tail -f), until
// ctx ends.
func ReadFile(ctx context.Context, path, topic string, follow bool, pub Publisher) (FileStats, error) {
	st := FileStats{Path: path}
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return st, fmt.Errorf("input: %w", err)
		}
		defer f.Close()
		r = f
	}
	if follow {
		r = &followReader{ctx: ctx, r: r}
	}
	br := bufio.NewReaderSize(r, 1<<20)
	emit := func(value []byte) error {
		st.Messages++
		st.Bytes += int64(len(value))
		return pub.Publish(ctx, topic, value)
	}
	var err error
	if documents(br) {
		err = readDocuments(br, emit)
	} else {
		err = readLines(br, emit)
	}
	if err != nil {
		return st, fmt.Errorf("input %s: %w", path, err)
	}
	return st, nil
}

// documents tells whether the input is JSON documents rather than lines:
// it starts with '[', or with an object that its first line does not
// close.
func documents(br *bufio.Reader) bool {
	skipBOM(br)
	for {
		b, err := br.Peek(1)
		if err != nil {
			return false
		}
		if b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n' {
			_, _ = br.ReadByte()
			continue
		}
		if b[0] == '[' {
			return true
		}
		if b[0] != '{' {
			return false
		}
		// Peek at the first line without consuming it.
		for n := 4096; ; n *= 2 {
			head, err := br.Peek(n)
			if i := bytes.IndexByte(head, '\n'); i >= 0 {
				return !json.Valid(head[:i])
			}
			if err != nil { // the whole input is one line
				return !json.Valid(head)
			}
			if n >= br.Size() {
				return true // a first line longer than the buffer: a document
			}
		}
	}
}

func skipBOM(br *bufio.Reader) {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
}

func readLines(br *bufio.Reader, emit func([]byte) error) error {
	for {
		line, err := br.ReadBytes('\n')
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			if e := emit(trimmed); e != nil {
				return e
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func readDocuments(br *bufio.Reader, emit func([]byte) error) error {
	dec := json.NewDecoder(br)
	for {
		var doc json.RawMessage
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not JSON at byte %d (%w); the rest of the input was not read", dec.InputOffset(), err)
		}
		for _, m := range split(doc) {
			if err := emit(m); err != nil {
				return err
			}
		}
	}
}

// split cuts a large container of records into messages of splitRecords
// records each, in the container's own shape; anything else is one
// message.
func split(doc json.RawMessage) [][]byte {
	if len(doc) <= splitAbove {
		return [][]byte{doc}
	}
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var items []json.RawMessage
		if json.Unmarshal(trimmed, &items) != nil {
			return [][]byte{doc}
		}
		return chunks(items, func(part []json.RawMessage) []byte { return mustMarshal(part) })
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(trimmed, &obj) != nil {
		return [][]byte{doc}
	}
	for _, member := range []string{"records", "value"} {
		var items []json.RawMessage
		if raw, ok := obj[member]; !ok || json.Unmarshal(raw, &items) != nil {
			continue
		}
		return chunks(items, func(part []json.RawMessage) []byte {
			return mustMarshal(map[string][]json.RawMessage{member: part})
		})
	}
	return [][]byte{doc}
}

func chunks(items []json.RawMessage, wrap func([]json.RawMessage) []byte) [][]byte {
	var out [][]byte
	for len(items) > 0 {
		n := min(splitRecords, len(items))
		out = append(out, wrap(items[:n]))
		items = items[n:]
	}
	return out
}

// mustMarshal marshals values that hold only valid JSON.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// followReader waits at the end of its reader for more, as tail -f does,
// until ctx ends.
type followReader struct {
	ctx context.Context
	r   io.Reader
}

// followPoll is how often the end of a followed file is looked at again.
const followPoll = 200 * time.Millisecond

func (f *followReader) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		if n > 0 || (err != nil && !errors.Is(err, io.EOF)) {
			return n, err
		}
		select {
		case <-f.ctx.Done():
			return 0, io.EOF
		case <-time.After(followPoll):
		}
	}
}

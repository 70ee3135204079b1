package graphpull

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// cursorFile keeps, per event type, the start of the last poll that
// published everything; it is rewritten atomically (a temporary file in
// the same directory, synced, then renamed over the old one), so a crash
// leaves either the old cursor or the new one.
type cursorFile struct {
	path string
	mu   sync.Mutex
	at   map[string]time.Time
}

func openCursor(path string) (*cursorFile, error) {
	c := &cursorFile{path: path, at: map[string]time.Time{}}
	b, err := os.ReadFile(path) //nolint:gosec // the operator names the cursor file
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("SIGNINDIAG_GRAPH_CURSOR_FILE: %w", err)
	}
	if err := json.Unmarshal(b, &c.at); err != nil {
		return nil, fmt.Errorf("SIGNINDIAG_GRAPH_CURSOR_FILE %s: not a cursor file (%w); remove it to start from the initial lookback", path, err)
	}
	return c, nil
}

func (c *cursorFile) get(eventType string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.at[eventType]
	return t, ok
}

func (c *cursorFile) set(eventType string, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at[eventType] = t
	b, err := json.MarshalIndent(c.at, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(c.path, b)
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("cursor: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("cursor: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	if d, err := os.Open(dir); err == nil { //nolint:gosec // the cursor file's own directory
		_ = d.Sync() // the rename itself survives a power cut
		_ = d.Close()
	}
	return nil
}

package inproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// offsetsFile keeps the internal topics' committed offsets. It is
// rewritten (to a temporary file, synced, renamed) on every commit: a
// commit follows a flush to the store, a few per second per partition, and
// the offsets must never fall behind what the store holds, or a restart
// would number new records with offsets the store already has.
type offsetsFile struct {
	path string
	mu   sync.Mutex
	// Partitions is the internal topics' partition count.
	Partitions int                `json:"partitions"`
	Committed  map[string][]int64 `json:"committed"`
}

func loadOffsets(path string) (*offsetsFile, error) {
	o := &offsetsFile{path: path, Committed: map[string][]int64{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inproc: offsets: %w", err)
	}
	if err := json.Unmarshal(data, o); err != nil {
		return nil, fmt.Errorf("inproc: offsets file %s: %w", path, err)
	}
	if o.Committed == nil {
		o.Committed = map[string][]int64{}
	}
	return o, nil
}

func (o *offsetsFile) set(topic string, partition, partitions int, next int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	list := o.Committed[topic]
	for len(list) < partitions {
		list = append(list, 0)
	}
	list[partition] = next
	o.Committed[topic] = list
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	tmp := o.path + ".tmp"
	if err := writeSynced(tmp, data); err != nil {
		return fmt.Errorf("inproc: offsets: %w", err)
	}
	if err := os.Rename(tmp, o.path); err != nil {
		return fmt.Errorf("inproc: offsets: %w", err)
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close() // the write's error is the one to report
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close() // the sync's error is the one to report
		return err
	}
	return f.Close()
}

package clickhouse

import (
	"testing"
	"time"
)

func TestPartitionEndNamesTheRangeOfTimePartitionsOnly(t *testing.T) {
	for id, want := range map[string]string{
		"202501":   "2025-02-01T00:00:00Z",
		"202512":   "2026-01-01T00:00:00Z",
		"20250131": "2025-02-01T00:00:00Z",
		"20241231": "2025-01-01T00:00:00Z",
	} {
		end, ok := partitionEnd(id)
		if !ok || end.Format(time.RFC3339) != want {
			t.Errorf("partitionEnd(%q) = %v %v, want %s", id, end, ok, want)
		}
	}
	for _, id := range []string{"all", "", "2025", "202513", "20250230", "1a2b3c", "0123456789abcdef0123456789abcdef"} {
		if end, ok := partitionEnd(id); ok {
			t.Errorf("partitionEnd(%q) = %v, want not a time partition", id, end)
		}
	}
}

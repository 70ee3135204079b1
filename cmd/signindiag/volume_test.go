package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/signindiag/signindiag/loadgen"
	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// TestVolumeAtDefaultSettingsStoresEverySignInOnce sends 100 000 realistic
// sign-ins of 3–4 KB (Graph objects and Event Hubs batches of 100, unkeyed
// over six partitions, with late records, duplicate messages and flags, as
// Entra delivers them) to signindiag running with its default batch and
// flush settings, and checks that every sign-in is stored exactly once.
// Small streams with small batches hid a stall at volume once: the broker
// refused the producer's batches for ever.
func TestVolumeAtDefaultSettingsStoresEverySignInOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	brokers := kafkatest.Brokers(t)
	chCfg := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("volume")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := source.EnsureTopics(ctx, kafkaconn.Plain(brokers).Client(0), []source.TopicSpec{
		{Name: prefix + "-signins", Partitions: 6}, {Name: prefix + "-flags", Partitions: 6}}); err != nil {
		t.Fatal(err)
	}

	cfg := loadgen.DefaultConfig()
	cfg.Count = 100_000
	cfg.Start = time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Minute)
	cfg.Span = 6 * time.Hour
	gen, err := loadgen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]bool, cfg.Count)
	var signIns, flags [][]byte
	var bytes int
	for {
		m, ok := gen.Next()
		if !ok {
			break
		}
		for _, id := range m.SignInIDs {
			want[id] = true
		}
		if m.Topic == loadgen.TopicFlags {
			flags = append(flags, m.Value)
		} else {
			signIns = append(signIns, m.Value)
			bytes += len(m.Value)
		}
	}
	stats := gen.Stats()
	if len(want) != cfg.Count || stats.Duplicates == 0 || len(flags) == 0 {
		t.Fatalf("generator: %d distinct sign-ins, %d duplicates, %d flags; want %d sign-ins and some of each", len(want), stats.Duplicates, len(flags), cfg.Count)
	}
	t.Logf("sending %d sign-ins in %d messages (%.0f MB, %.1f KB per sign-in), %d duplicate messages, %d flags",
		len(want), len(signIns), float64(bytes)/1e6, float64(bytes)/float64(stats.SignIns+stats.Duplicates)/1e3, stats.Duplicates, len(flags))

	// Default settings: no batch or flush overrides.
	env := processEnv(brokers, chCfg, prefix, map[string]string{"SIGNINDIAG_KAFKA_PARTITIONS": "6"})
	delete(env, "SIGNINDIAG_FLUSH_INTERVAL")
	delete(env, "SIGNINDIAG_BATCH_SIZE")
	proc := startProcess(t, "ingest", env)
	proc.waitReady(t)
	start := time.Now()
	kafkatest.Produce(t, brokers, prefix+"-signins", signIns...)
	kafkatest.Produce(t, brokers, prefix+"-flags", flags...)

	conn := rawConn(t, chCfg)
	eventually(t, 5*time.Minute, fmt.Sprintf("%d distinct sign-ins stored", len(want)), func() bool {
		return countDistinct(t, conn, chCfg.Database, "signins") >= uint64(len(want))
	})
	t.Logf("all %d sign-ins stored %.1fs after the first was sent", len(want), time.Since(start).Seconds())
	eventually(t, 2*time.Minute, "every stage committed", func() bool {
		return kafkatest.Caught(t, brokers, prefix, prefix+"-signins") && kafkatest.Caught(t, brokers, prefix+"-diagnose", prefix+"-keyed")
	})
	proc.stop()

	// Exactly the generated sign-ins, each once after deduplication.
	rows, err := conn.Query(context.Background(), fmt.Sprintf("SELECT id, count() FROM %s.signins FINAL GROUP BY id", chCfg.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if !want[id] {
			t.Fatalf("stored sign-in %q was never sent", id)
		}
		if n != 1 {
			t.Fatalf("sign-in %q is stored %d times after deduplication", id, n)
		}
		got++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Fatalf("%d distinct sign-ins stored, want %d", got, len(want))
	}
	if dead := kafkatest.ReadAll(t, brokers, prefix+"-dlq"); len(dead) != 0 {
		t.Fatalf("%d valid records were dead-lettered", len(dead))
	}
}

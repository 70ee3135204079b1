-- What a worker that takes over a partition reads to rebuild its windows,
-- in tables of their own, so the rebuild is exact and reads little.
--
-- window_failures: every failed sign-in the diagnose stage stored, with
-- its position in the user-keyed topic. A plain MergeTree: no merge ever
-- replaces a row, so "the failures stored before the committed offset" is
-- exact whatever later copies of a sign-in were written (the window drops
-- duplicates itself). Ordered by (shard, created_at), so a rebuild reads
-- only its shard's last window, and partitioned by day, the retention
-- job's unit.
CREATE TABLE IF NOT EXISTS {{db}}.window_failures
(
    shard        UInt16,
    created_at   DateTime('UTC'),
    created_ms   Int64,
    user_key     String,
    category     String,
    id           String,
    error_code   Int32,
    app_id       String,
    device       String,
    kafka_offset Int64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(created_at)
ORDER BY (shard, created_at);

-- window_ip_failures: the same for the spray stage's candidates (its
-- ip_failures table, which per-IP evidence reads, is a ReplacingMergeTree
-- where a later copy replaces the first).
CREATE TABLE IF NOT EXISTS {{db}}.window_ip_failures
(
    shard        UInt16,
    created_at   DateTime('UTC'),
    created_ms   Int64,
    ip           String,
    user_key     String,
    identity     String,
    kafka_offset Int64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(created_at)
ORDER BY (shard, created_at);

-- window_marks: each stage's watermark (the latest event time it had seen,
-- successes included) at the last offset of every stored batch, so a
-- rebuild starts from the watermark the live window had at the committed
-- offset, not from the latest stored failure.
CREATE TABLE IF NOT EXISTS {{db}}.window_marks
(
    stage        String,
    shard        UInt16,
    kafka_offset Int64,
    watermark_ms Int64,
    written_at   DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(written_at)
ORDER BY (stage, shard, kafka_offset);

-- The failures stored before this migration, so the first rebuild after
-- an upgrade is as exact as every later one. Bounded to 30 days: no live
-- window reaches further back.
INSERT INTO {{db}}.window_failures (shard, created_at, created_ms, user_key, category, id, error_code, app_id, device, kafka_offset)
SELECT shard, created_at, created_ms, user_key, category, id, error_code, app_id, device, kafka_offset
FROM {{db}}.signins WHERE is_failure = 1 AND created_at >= now() - INTERVAL 30 DAY;

INSERT INTO {{db}}.window_ip_failures (shard, created_at, created_ms, ip, user_key, identity, kafka_offset)
SELECT shard, created_at, created_ms, ip, user_key, identity, kafka_offset
FROM {{db}}.ip_failures WHERE created_at >= now() - INTERVAL 30 DAY;

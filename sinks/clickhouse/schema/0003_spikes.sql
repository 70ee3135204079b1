-- signin_facts: one narrow row per sign-in version, for the event-time
-- aggregates behind /v1/spikes, the failure_spike detector and dashboards
-- (docs/spikes.md). It holds only what a count by dimension needs, so a
-- series over days reads a few columns of a few bytes per row instead of
-- the sign-in documents.
--
-- Exact under replays: counts are never stored. A query counts distinct
-- sign-ins (uniqExact of sid, a 64-bit hash of category/id) per bucket and
-- value, so a replayed row, or one ReplacingMergeTree has not collapsed
-- yet, never counts twice, and an interrupt re-emitted with its failure
-- counts once.
--
-- ORDER BY puts failures first, then event time: a failure series reads
-- only the failure rows of its time range (about one row in twenty).
-- Replays (same failure verdict, time and sid) collapse in merges.
CREATE TABLE IF NOT EXISTS {{db}}.signin_facts
(
    is_failure UInt8,
    created_at DateTime('UTC'),
    sid        UInt64,
    created_ms Int64,
    error_code Int32,
    scenario   String,
    app        String,
    client_app String,
    country    String,
    ip         String,
    user_key   String,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (is_failure, created_at, sid);

-- One row per sign-in version. A sign-in is identified by (category, id);
-- Entra re-emits a sign-in (e.g. an interrupt later completed) under the
-- same id, with a later createdDateTime, so readers take per (category,
-- id) the row with the latest created_ms, then the highest version (write
-- time), with LIMIT 1 BY; ReplacingMergeTree collapses exact replays in
-- the background. ORDER BY serves lookups by
-- user and time; id lookups go through signin_keys first.
CREATE TABLE IF NOT EXISTS {{db}}.signins
(
    user_key            String,
    created_at          DateTime('UTC'),
    id                  String,
    created_ms          Int64,
    category            String,
    correlation_id      String,
    user_id             String,
    user_principal_name String,
    app_id              String,
    app_display_name    String,
    ip_address          String,
    client_app_used     String,
    device              String,
    error_code          Int32,
    is_failure          UInt8,
    flagged_for_review  UInt8,
    shard               UInt16,
    kafka_offset        Int64,
    version             UInt64,
    doc                 String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (user_key, created_at, category, id);

-- Secondary keys of a sign-in (correlationId, requestId, UPN) pointing at
-- its primary key, so an id lookup reads a few index granules, not every
-- sign-in.
CREATE TABLE IF NOT EXISTS {{db}}.signin_keys
(
    kind       String,
    key        String,
    user_key   String,
    created_at DateTime('UTC'),
    signin_id  String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (kind, key, user_key, signin_id);

-- Findings: the id is deterministic, so a replay writes the same row again
-- and ReplacingMergeTree collapses it.
CREATE TABLE IF NOT EXISTS {{db}}.findings
(
    user_key       String,
    occurred_at    DateTime('UTC'),
    id             String,
    signin_id      String,
    correlation_id String,
    scenario       String,
    severity       String,
    error_code     Int32,
    failures_48h   UInt32,
    version        UInt64,
    doc            String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (user_key, occurred_at, id);

-- Flag events. A sign-in is flagged when it says so itself or when a flag
-- names it; the join happens at read time, so flag and sign-in may arrive
-- in either order.
CREATE TABLE IF NOT EXISTS {{db}}.flags
(
    user_key       String,
    flagged_at     DateTime('UTC'),
    id             String,
    signin_id      String,
    correlation_id String,
    request_id     String,
    flagged_by     String,
    version        UInt64,
    doc            String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(flagged_at)
ORDER BY (user_key, flagged_at, id);

-- Failed sign-ins as the per-IP (password spray) stage saw them: its
-- windows are rebuilt from here after a restart, like the user windows
-- from signins. ORDER BY serves that rebuild and per-IP evidence.
CREATE TABLE IF NOT EXISTS {{db}}.ip_failures
(
    ip           String,
    created_at   DateTime('UTC'),
    identity     String,
    created_ms   Int64,
    user_key     String,
    shard        UInt16,
    kafka_offset Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (shard, created_at, ip, identity);

-- Incidents of the windowed detections (excessive_failures_48h,
-- mfa_fatigue, password_spray): one row per version. The id is
-- deterministic (detection, key, start); version is the member count, so
-- the latest state wins whatever order rows arrive in, and a superseded
-- incident (merged into an earlier one by a late event) is written with
-- superseded_by set and a version above every live one. Readers take
-- LIMIT 1 BY id on version DESC and drop superseded rows. A sign-in is a
-- member of an incident of its key when it qualifies and lies in
-- [first_ms, last_ms]. ORDER BY serves lookups by detection and key;
-- shard serves the window rebuild.
CREATE TABLE IF NOT EXISTS {{db}}.incidents
(
    detection     String,
    key           String,
    start_at      DateTime('UTC'),
    id            String,
    start_ms      Int64,
    first_at      DateTime('UTC'),
    last_at       DateTime('UTC'),
    first_ms      Int64,
    last_ms       Int64,
    member_count  UInt32,
    superseded_by String,
    shard         UInt16,
    version       UInt64,
    doc           String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(start_at)
ORDER BY (detection, key, start_at, id);

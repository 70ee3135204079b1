-- The embedded store keeps one row per sign-in, flag, finding and incident:
-- SQLite updates in place, so a later version replaces the earlier one at
-- write time (INSERT … ON CONFLICT DO UPDATE … WHERE the new version is
-- greater) and readers never pick among versions. Times are Unix
-- milliseconds. Every index serves a read path; each costs every write.

-- Sign-ins, latest version only. A sign-in is (category, id); Entra ids
-- compare case-insensitively (the ClickHouse store looks them up
-- lower-cased), so id and correlation_id use NOCASE and one index serves
-- both the upsert and requestId lookups. version orders versions: the
-- later createdDateTime, then the later write (see writer.go). The
-- document is the last column: reading the others never touches the
-- overflow pages it spills into.
CREATE TABLE signins (
    id                  TEXT    NOT NULL COLLATE NOCASE,
    category            TEXT    NOT NULL,
    created_ms          INTEGER NOT NULL,
    version             INTEGER NOT NULL,
    user_key            TEXT    NOT NULL,
    upn                 TEXT    NOT NULL,
    correlation_id      TEXT    NOT NULL COLLATE NOCASE,
    user_h              INTEGER NOT NULL,
    correlation_h       INTEGER,
    app_id              TEXT    NOT NULL,
    app_display_name    TEXT    NOT NULL,
    app                 TEXT    NOT NULL,
    ip_address          TEXT    NOT NULL,
    client_app_used     TEXT    NOT NULL,
    device              TEXT    NOT NULL,
    country             TEXT    NOT NULL,
    scenario            TEXT    NOT NULL,
    error_code          INTEGER NOT NULL,
    is_failure          INTEGER NOT NULL,
    shard               INTEGER NOT NULL,
    kafka_offset        INTEGER NOT NULL,
    doc                 BLOB    NOT NULL
);
CREATE UNIQUE INDEX signins_identity ON signins (id, category);
-- The correlation id and the user key are indexed by their 64-bit hashes
-- (user_h, correlation_h: FNV-1a of the lower-cased string; see
-- hashKey): entries a third the size of the strings', so a batch of
-- random keys dirties a third of the pages. Readers compare the strings
-- too, so a collision costs a row read, never a wrong answer.
CREATE INDEX signins_correlation ON signins (correlation_h) WHERE correlation_h IS NOT NULL;
-- User searches, failure counts and evidence by user.
CREATE INDEX signins_user_time ON signins (user_h, created_ms);
-- Lists over all users, retention, and the latest event stored from a
-- shard before an offset (the watermark of a shard without recorded
-- marks), read backwards from the latest.
CREATE INDEX signins_time ON signins (created_ms, shard, kafka_offset);
-- Failure counts for spikes (every dimension in the index: a series over
-- days never reads the table) and evidence by IP. Failures are a small
-- part of the sign-ins, so this partial index costs little.
CREATE INDEX signins_failure_facts ON signins (created_ms, error_code, scenario, app, client_app_used, country, ip_address, user_key)
    WHERE is_failure = 1;

-- UPN → user keys (a UPN names the user whose object id its sign-ins
-- carried).
CREATE TABLE user_upns (
    upn      TEXT NOT NULL,
    user_key TEXT NOT NULL,
    seen_ms  INTEGER NOT NULL,
    PRIMARY KEY (upn, user_key)
) WITHOUT ROWID;

-- Flags: one row per flag id, the latest write of it. A target is what a
-- flag names (signin_id, correlation_id, request_id, lower-cased).
CREATE TABLE flags (
    id             TEXT    NOT NULL PRIMARY KEY,
    flagged_ms     INTEGER NOT NULL,
    signin_id      TEXT    NOT NULL,
    correlation_id TEXT    NOT NULL,
    request_id     TEXT    NOT NULL,
    flagged_by     TEXT    NOT NULL,
    user_key       TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    doc            TEXT    NOT NULL
);
CREATE INDEX flags_time ON flags (flagged_ms, id);
CREATE INDEX flags_target ON flags (signin_id, correlation_id, request_id, flagged_ms, id);
CREATE INDEX flags_request ON flags (request_id) WHERE request_id != '';
CREATE INDEX flags_correlation ON flags (correlation_id) WHERE correlation_id != '';

-- Findings, one per id: the later occurrence, then a complete window over
-- a partial one, then the later write (see writer.go).
CREATE TABLE findings (
    id             TEXT    NOT NULL PRIMARY KEY,
    signin_id      TEXT    NOT NULL,
    correlation_id TEXT    NOT NULL,
    user_key       TEXT    NOT NULL,
    occurred_ms    INTEGER NOT NULL,
    occurred_s     INTEGER NOT NULL,
    scenario       TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    flagged        INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    doc            TEXT    NOT NULL
);
CREATE INDEX findings_signin ON findings (signin_id);
CREATE INDEX findings_time ON findings (occurred_s, id);

-- What a worker taking over a partition rebuilds its windows from: every
-- failure (or spray candidate) as stored at its offset, never replaced by
-- a later copy, so "stored before the committed offset" is exact.
CREATE TABLE window_failures (
    shard        INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    category     TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    kafka_offset INTEGER NOT NULL,
    user_key     TEXT    NOT NULL,
    error_code   INTEGER NOT NULL,
    app_id       TEXT    NOT NULL,
    device       TEXT    NOT NULL,
    PRIMARY KEY (shard, created_ms, category, id, kafka_offset)
) WITHOUT ROWID;

CREATE TABLE window_ip_failures (
    shard        INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    ip           TEXT    NOT NULL,
    identity     TEXT    NOT NULL,
    kafka_offset INTEGER NOT NULL,
    user_key     TEXT    NOT NULL,
    PRIMARY KEY (shard, created_ms, ip, identity, kafka_offset)
) WITHOUT ROWID;

-- Each window's watermark after the last offset of every stored batch.
CREATE TABLE window_marks (
    stage        TEXT    NOT NULL,
    shard        INTEGER NOT NULL,
    kafka_offset INTEGER NOT NULL,
    watermark_ms INTEGER NOT NULL,
    written_ms   INTEGER NOT NULL,
    PRIMARY KEY (stage, shard, kafka_offset)
) WITHOUT ROWID;

-- Incidents, one row per id: the highest version (member count; a
-- superseded incident carries the highest of all).
CREATE TABLE incidents (
    id            TEXT    NOT NULL PRIMARY KEY,
    detection     TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    start_ms      INTEGER NOT NULL,
    first_ms      INTEGER NOT NULL,
    last_ms       INTEGER NOT NULL,
    member_count  INTEGER NOT NULL,
    superseded_by TEXT    NOT NULL,
    shard         INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    doc           TEXT    NOT NULL
);
CREATE INDEX incidents_key ON incidents (detection, key, start_ms);
CREATE INDEX incidents_start ON incidents (start_ms, id);
CREATE INDEX incidents_shard ON incidents (shard, last_ms);

CREATE TABLE feedback (
    id         TEXT    NOT NULL PRIMARY KEY,
    given_ms   INTEGER NOT NULL,
    finding_id TEXT    NOT NULL,
    signin_id  TEXT    NOT NULL,
    scenario   TEXT    NOT NULL,
    helpful    INTEGER NOT NULL,
    comment    TEXT    NOT NULL,
    given_by   TEXT    NOT NULL
);
CREATE INDEX feedback_time ON feedback (given_ms, id);
CREATE INDEX feedback_finding ON feedback (finding_id, given_ms);

-- The latest acknowledgement of each sign-in.
CREATE TABLE acknowledgements (
    signin_id       TEXT    NOT NULL PRIMARY KEY,
    acknowledged_ms INTEGER NOT NULL,
    acknowledged_by TEXT    NOT NULL,
    comment         TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX acknowledgements_time ON acknowledgements (acknowledged_ms);

-- Fast lookups (issue 11): each access path of the query API gets a table
-- ordered for it, with index granules small enough that a point lookup
-- reads tens of rows per part instead of 8192 (a PRIMARY KEY shorter than
-- the sorting key keeps the in-memory index of the small granules small). ClickHouse 18.16 has no
-- skip indexes, no read-in-order and no adaptive granularity, so the
-- ordering and the granule size are the only levers, and both are fixed
-- at CREATE time. Every table is a ReplacingMergeTree; readers still pick
-- the latest version per id, as they do on signins.
--
-- Sign-in documents, one row per version, in the order of signins but
-- with nothing else than what a user search filters on: the 3 KB document
-- is read only for the granules of the rows a lookup returns. signins
-- keeps every other column (windows, counts, rebuilds) and, from this
-- version on, an empty doc.
CREATE TABLE IF NOT EXISTS {{db}}.signin_docs
(
    user_key         String,
    created_at       DateTime('UTC'),
    category         String,
    id               String,
    created_ms       Int64,
    version          UInt64,
    app_id           String,
    app_display_name String,
    doc              String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (user_key, created_at, category, id)
PRIMARY KEY (user_key, created_at)
SETTINGS index_granularity = 128;

-- Id keys of a sign-in (requestId, i.e. the sign-in id, and correlationId)
-- and UPN → user key rows, pointing at the sign-in's place in signin_docs.
-- Replaces signin_keys (8192-row granules, and re-emitted versions
-- collapsed into one row). Every version keeps its own row.
CREATE TABLE IF NOT EXISTS {{db}}.signin_lookup
(
    kind       String,
    key        String,
    user_key   String,
    created_at DateTime('UTC'),
    signin_id  String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (kind, key, user_key, signin_id, created_at)
PRIMARY KEY (kind, key)
SETTINGS index_granularity = 32;

-- Rows per user and hour of signin_docs: a user search reads these first
-- and then only the last hours that hold a page, so the busiest user's
-- search reads a few hundred rows, not every row of the 48 hours (18.16
-- cannot stop reading at LIMIT). A hint only: readers widen the range
-- when it falls short.
CREATE TABLE IF NOT EXISTS {{db}}.signin_user_hours
(
    user_key String,
    hour     DateTime('UTC'),
    signins  UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (user_key, hour)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.signin_user_hours_mv TO {{db}}.signin_user_hours
AS SELECT user_key, toStartOfHour(created_at) AS hour, count() AS signins
FROM {{db}}.signin_docs GROUP BY user_key, hour;

-- Failed sign-ins by user and by IP, with what evidence lists: evidence
-- and failure counts read only the failures of one subject and window.
-- signins is ordered by user, so evidence by IP used to read every
-- sign-in of the window.
CREATE TABLE IF NOT EXISTS {{db}}.failure_facts
(
    subject_kind        String,
    subject             String,
    created_at          DateTime('UTC'),
    category            String,
    id                  String,
    created_ms          Int64,
    version             UInt64,
    user_key            String,
    user_principal_name String,
    app_display_name    String,
    ip_address          String,
    device              String,
    client_app_used     String,
    error_code          Int32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (subject_kind, subject, created_at, category, id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.failure_facts_user_mv TO {{db}}.failure_facts
AS SELECT 'user' AS subject_kind, user_key AS subject, created_at, category, id, created_ms, version, user_key,
          user_principal_name, app_display_name, ip_address, device, client_app_used, error_code
FROM {{db}}.signins WHERE is_failure = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.failure_facts_ip_mv TO {{db}}.failure_facts
AS SELECT 'ip' AS subject_kind, ip_address AS subject, created_at, category, id, created_ms, version, user_key,
          user_principal_name, app_display_name, ip_address, device, client_app_used, error_code
FROM {{db}}.signins WHERE is_failure = 1 AND ip_address != '';

-- Findings by the sign-in they are about: the findings of a page of
-- sign-ins are a few point lookups, whoever the users are. Findings and
-- flags are few next to sign-ins, so their index can afford 8-row
-- granules: a page's hundred keys then read about a thousand rows.
CREATE TABLE IF NOT EXISTS {{db}}.findings_by_signin
(
    signin_id   String,
    id          String,
    occurred_at DateTime('UTC'),
    user_key    String,
    version     UInt64,
    doc         String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (signin_id, id, occurred_at)
PRIMARY KEY signin_id
SETTINGS index_granularity = 8;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.findings_by_signin_mv TO {{db}}.findings_by_signin
AS SELECT signin_id, id, occurred_at, user_key, version, doc FROM {{db}}.findings;

-- Flags in page order: a page reads the flags of a time slice, not the
-- whole table.
CREATE TABLE IF NOT EXISTS {{db}}.flag_times
(
    flagged_at     DateTime('UTC'),
    id             String,
    signin_id      String,
    correlation_id String,
    request_id     String,
    flagged_by     String,
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(flagged_at)
ORDER BY (flagged_at, id)
SETTINGS index_granularity = 128;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.flag_times_mv TO {{db}}.flag_times
AS SELECT flagged_at, id, signin_id, correlation_id, request_id, flagged_by, version FROM {{db}}.flags;

-- Flags by every id they name (sign-in id, request id, correlation id):
-- whether a sign-in is flagged, and whether a flag's target was flagged
-- again later, are point lookups.
CREATE TABLE IF NOT EXISTS {{db}}.flag_keys
(
    key            String,
    flagged_at     DateTime('UTC'),
    id             String,
    signin_id      String,
    correlation_id String,
    request_id     String,
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(flagged_at)
ORDER BY (key, flagged_at, id)
PRIMARY KEY key
SETTINGS index_granularity = 8;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.flag_keys_mv TO {{db}}.flag_keys
AS SELECT arrayJoin(arrayFilter(k -> k != '', [signin_id, correlation_id, request_id])) AS key,
          flagged_at, id, signin_id, correlation_id, request_id, version
FROM {{db}}.flags;

-- Incidents by detection and key with small granules (the incidents table
-- keeps serving listings and rebuilds).
CREATE TABLE IF NOT EXISTS {{db}}.incidents_by_key
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
ORDER BY (detection, key, start_at, id)
PRIMARY KEY (detection, key)
SETTINGS index_granularity = 32;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.incidents_by_key_mv TO {{db}}.incidents_by_key
AS SELECT detection, key, start_at, id, start_ms, first_at, last_at, first_ms, last_ms, member_count,
          superseded_by, shard, version, doc
FROM {{db}}.incidents;

-- Rows stored before this migration. The views above are in place first,
-- so the backfill of signin_docs also fills signin_user_hours; a row a
-- running older version writes during the backfill may be missed by the
-- tables it does not feed through a view (signin_docs, signin_lookup).
INSERT INTO {{db}}.signin_docs (user_key, created_at, category, id, created_ms, version, app_id, app_display_name, doc)
SELECT user_key, created_at, category, id, created_ms, version, app_id, app_display_name, doc
FROM {{db}}.signins WHERE doc != '';

INSERT INTO {{db}}.signin_lookup (kind, key, user_key, created_at, signin_id)
SELECT kind, key, user_key, created_at, signin_id FROM {{db}}.signin_keys;

INSERT INTO {{db}}.failure_facts (subject_kind, subject, created_at, category, id, created_ms, version, user_key,
    user_principal_name, app_display_name, ip_address, device, client_app_used, error_code)
SELECT 'user', user_key, created_at, category, id, created_ms, version, user_key,
       user_principal_name, app_display_name, ip_address, device, client_app_used, error_code
FROM {{db}}.signins WHERE is_failure = 1;

INSERT INTO {{db}}.failure_facts (subject_kind, subject, created_at, category, id, created_ms, version, user_key,
    user_principal_name, app_display_name, ip_address, device, client_app_used, error_code)
SELECT 'ip', ip_address, created_at, category, id, created_ms, version, user_key,
       user_principal_name, app_display_name, ip_address, device, client_app_used, error_code
FROM {{db}}.signins WHERE is_failure = 1 AND ip_address != '';

INSERT INTO {{db}}.findings_by_signin (signin_id, id, occurred_at, user_key, version, doc)
SELECT signin_id, id, occurred_at, user_key, version, doc FROM {{db}}.findings;

INSERT INTO {{db}}.flag_times (flagged_at, id, signin_id, correlation_id, request_id, flagged_by, version)
SELECT flagged_at, id, signin_id, correlation_id, request_id, flagged_by, version FROM {{db}}.flags;

INSERT INTO {{db}}.flag_keys (key, flagged_at, id, signin_id, correlation_id, request_id, version)
SELECT arrayJoin(arrayFilter(k -> k != '', [signin_id, correlation_id, request_id])) AS key,
       flagged_at, id, signin_id, correlation_id, request_id, version
FROM {{db}}.flags;

INSERT INTO {{db}}.incidents_by_key (detection, key, start_at, id, start_ms, first_at, last_at, first_ms, last_ms,
    member_count, superseded_by, shard, version, doc)
SELECT detection, key, start_at, id, start_ms, first_at, last_at, first_ms, last_ms, member_count,
       superseded_by, shard, version, doc
FROM {{db}}.incidents

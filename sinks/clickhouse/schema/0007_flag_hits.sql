-- The sign-ins each flag names, paired at write time (flaghits.go): a
-- flag with the stored sign-ins it names, a sign-in with the stored flags
-- naming it, each side looking after its own rows are stored, so a flag
-- and its sign-in written at once by two writers are paired by at least
-- one of them. Before this table a flagged page resolved about 200 keys
-- through signin_lookup (a granule per key and part: a hundred thousand
-- rows for a page of a hundred) and read a granule of 128 documents of
-- signin_docs per sign-in. Now a page reads the pairs of its flags' time
-- slice, each with its version's document (the latest version wins, as
-- in signin_docs). Pairs backfilled below carry no document.
CREATE TABLE IF NOT EXISTS {{db}}.flag_hits
(
    flagged_at          DateTime('UTC'),
    flag_id             String,
    flag_signin_id      String,
    flag_correlation_id String,
    flag_request_id     String,
    user_key            String,
    created_at          DateTime('UTC'),
    category            String,
    signin_id           String,
    created_ms          Int64,
    version             UInt64,
    doc                 String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(flagged_at)
ORDER BY (flagged_at, flag_id, user_key, created_at, category, signin_id)
SETTINGS index_granularity = 32;

-- The same pairs by sign-in: whether the sign-ins of a lookup or of a
-- user's hours are flagged is a range of their users and time, not a key
-- per sign-in (flag_keys by key reads a granule per key and part). Pairs
-- are as few as flags, so 8-row granules cost little memory.
CREATE TABLE IF NOT EXISTS {{db}}.flag_hits_by_user
(
    user_key            String,
    created_at          DateTime('UTC'),
    signin_id           String,
    flagged_at          DateTime('UTC'),
    flag_id             String,
    flag_signin_id      String,
    flag_correlation_id String,
    flag_request_id     String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (user_key, created_at, signin_id, flagged_at, flag_id)
SETTINGS index_granularity = 8;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.flag_hits_by_user_mv TO {{db}}.flag_hits_by_user
AS SELECT user_key, created_at, signin_id, flagged_at, flag_id, flag_signin_id, flag_correlation_id, flag_request_id
FROM {{db}}.flag_hits;

-- The pairs of what is stored already: every flag joined with the id and
-- correlation id keys of the stored sign-ins (the flags are the small,
-- in-memory side of the join). Without their documents: copying them
-- would read most of signin_docs, whose granules hold 128 documents;
-- readers take those from signin_docs.
INSERT INTO {{db}}.flag_hits (flagged_at, flag_id, flag_signin_id, flag_correlation_id, flag_request_id, user_key, created_at, signin_id)
SELECT flagged_at, flag_id, flag_signin_id, flag_correlation_id, flag_request_id, user_key, created_at, signin_id
FROM (SELECT kind, key, user_key, created_at, signin_id FROM {{db}}.signin_lookup WHERE kind IN ('requestId', 'correlationId'))
ALL INNER JOIN
(
    SELECT 'requestId' AS kind, arrayJoin(arrayFilter(k -> k != '', [signin_id, request_id])) AS key, flagged_at, id AS flag_id,
           signin_id AS flag_signin_id, correlation_id AS flag_correlation_id, request_id AS flag_request_id
    FROM {{db}}.flags
    UNION ALL
    SELECT 'correlationId' AS kind, correlation_id AS key, flagged_at, id AS flag_id,
           signin_id AS flag_signin_id, correlation_id AS flag_correlation_id, request_id AS flag_request_id
    FROM {{db}}.flags WHERE correlation_id != ''
) USING (kind, key);

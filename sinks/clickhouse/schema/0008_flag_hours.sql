-- Flags per hour: where the flags before a page's cursor are. 18.16 reads
-- every row a WHERE selects before its LIMIT, so a page reads the time
-- slice that holds a page of flags; fixed slices back from the cursor
-- (6 hours, a day, ...) read every flag once the newest is older than the
-- widest (a queue idle for weeks). The counts are a hint (a replayed flag
-- counts twice): readers widen the slice when it falls short.
CREATE TABLE IF NOT EXISTS {{db}}.flag_hours
(
    hour  DateTime('UTC'),
    flags UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.flag_hours_mv TO {{db}}.flag_hours
AS SELECT toStartOfHour(flagged_at) AS hour, count() AS flags
FROM {{db}}.flags GROUP BY hour;

INSERT INTO {{db}}.flag_hours (hour, flags)
SELECT toStartOfHour(flagged_at) AS hour, count() AS flags
FROM {{db}}.flags GROUP BY hour;

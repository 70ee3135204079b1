-- Feedback on findings, given through POST /v1/feedback: one row per
-- submission (id random), listed newest first by GET /v1/feedback. Small
-- next to sign-ins, so ordered for the listing; by finding it is read with
-- a filter over the listing order.
CREATE TABLE IF NOT EXISTS {{db}}.feedback
(
    given_at   DateTime('UTC'),
    given_ms   Int64,
    id         String,
    finding_id String,
    signin_id  String,
    scenario   String,
    helpful    UInt8,
    comment    String,
    given_by   String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(given_at)
ORDER BY (given_at, id);

-- Acknowledgements of flagged sign-ins (POST /v1/flagged/{id}/acknowledge):
-- the latest per sign-in counts; ordered by sign-in id, which is how the
-- flagged list reads them. Both tables are partitioned by month, so the
-- retention job drops them with the sign-ins they speak of.
CREATE TABLE IF NOT EXISTS {{db}}.acknowledgements
(
    signin_id       String,
    acknowledged_at DateTime('UTC'),
    acknowledged_ms Int64,
    acknowledged_by String,
    comment         String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(acknowledged_at)
ORDER BY (signin_id, acknowledged_ms);

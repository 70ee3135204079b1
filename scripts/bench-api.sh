#!/usr/bin/env bash
# Query API latency at size (make bench-api): load realistic sign-ins
# straight into a dedicated ClickHouse database (cmd/bench-api: the
# diagnose and spray stages and the real writer, no Kafka), then run each
# lookup sequentially through the queryapi handlers and report p50/p99 and
# the rows ClickHouse read (system.query_log).
#
# Environment: EVENTS (default 10000000), RUNS (requests per lookup,
# default 100), DATABASE (default signindiag_benchapi), REUSE=1 to query
# the sign-ins already loaded, BASELINE_REF (a git commit) to load with
# and measure that version first: its cmd/bench-api is this one, built in
# a worktree of the commit; the current version then migrates the same
# database (backfilling its new tables) and is measured on the same rows.
# The commit must be 82560a4 or later: cmd/bench-api names each request's
# queries through sinks/clickhouse.WithQueryTag, which older stores lack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
EVENTS="${EVENTS:-10000000}"
RUNS="${RUNS:-100}"
DATABASE="${DATABASE:-signindiag_benchapi}"
set -a; . ./.services.env; set +a
go build -o bin/bench-api ./cmd/bench-api
reuse=()
if [ -n "${REUSE:-}" ]; then reuse=(-reuse); fi
if [ -n "${BASELINE_REF:-}" ]; then
  tmp="$(mktemp -d)"
  git worktree add -q --detach "$tmp" "$BASELINE_REF"
  rm -rf "$tmp/cmd/bench-api" && cp -r cmd/bench-api "$tmp/cmd/bench-api"
  (cd "$tmp" && go build -o "$OLDPWD/bin/bench-api-baseline" ./cmd/bench-api)
  git worktree remove --force "$tmp"
  if [ -z "${REUSE:-}" ]; then
    ./bin/bench-api-baseline -database "$DATABASE" -events "$EVENTS" -load-only
  fi
  ./bin/bench-api-baseline -database "$DATABASE" -reuse -runs "$RUNS" -label "baseline-$BASELINE_REF" -json bin/bench-api-baseline.json
  reuse=(-reuse)
fi
./bin/bench-api -database "$DATABASE" -events "$EVENTS" "${reuse[@]}" -runs "$RUNS" -label current -json bin/bench-api.json

#!/usr/bin/env bash
# End-to-end benchmark (make bench-e2e): pre-load realistic sign-ins into the
# local Kafka, run `signindiag ingest`, time until every sign-in is a row in
# ClickHouse. Three configurations, medians of RUNS runs each, and a paced
# run at half the measured rate for the produce→visible latency. With
# BASELINE_REF set (a git commit), that version is built and run in turn
# with the current one on the first configuration, pair by pair.
#
# Environment: EVENTS (default 1000000), RUNS (3), BASELINE_REF (default
# none; e.g. e28a268, the version before batch sizing and the binary
# internal format), PROFILE=1 for a CPU and heap profile of the first run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
EVENTS="${EVENTS:-1000000}"
RUNS="${RUNS:-3}"
set -a; . ./.services.env; set +a
go build -o bin/signindiag ./cmd/signindiag
go build -o bin/bench-e2e ./cmd/bench-e2e
baseline=()
if [ -n "${BASELINE_REF:-}" ]; then
  tmp="$(mktemp -d)"
  git worktree add -q --detach "$tmp" "$BASELINE_REF"
  (cd "$tmp" && go build -o "$OLDPWD/bin/signindiag-baseline" ./cmd/signindiag)
  git worktree remove --force "$tmp"
  baseline=(--baseline bin/signindiag-baseline)
fi
profile=()
if [ -n "${PROFILE:-}" ]; then
  export SIGNINDIAG_PPROF=true
  profile=(--cpuprofile bin/bench-e2e.cpu.pprof)
fi
echo "== Graph sign-ins, one per message, 6 partitions"
./bin/bench-e2e --events "$EVENTS" --runs "$RUNS" --partitions 6 --shape graph --paced 0.5 "${baseline[@]}" "${profile[@]}"
echo "== Graph sign-ins, one per message, 1 partition"
./bin/bench-e2e --events "$EVENTS" --runs "$RUNS" --partitions 1 --shape graph --paced 0
echo "== Event Hubs batches of 100 records, 6 partitions"
./bin/bench-e2e --events "$EVENTS" --runs "$RUNS" --partitions 6 --shape eventhubs --records-per-batch 100 --paced 0

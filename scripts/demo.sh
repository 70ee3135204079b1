#!/usr/bin/env bash
# The demo: start local Kafka and ClickHouse, run `signindiag run`, send the
# sample sign-ins in testdata/demo/ (every accepted shape, one poison
# message), and show what the diagnostic found. signindiag keeps running
# until Ctrl-C (SIGTERM flushes and commits); DEMO_EXIT=1 stops it after
# the output, for scripted checks.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash scripts/services-up.sh
set -a
. ./.services.env
set +a
export SIGNINDIAG_CLICKHOUSE_DATABASE="${SIGNINDIAG_CLICKHOUSE_DATABASE:-signindiag_demo}"
export SIGNINDIAG_HTTP_ADDR="${SIGNINDIAG_HTTP_ADDR:-127.0.0.1:8080}"
export SIGNINDIAG_FLUSH_INTERVAL="${SIGNINDIAG_FLUSH_INTERVAL:-300ms}"
# The sample sign-ins are from March 2025: accept event times ten years back.
export SIGNINDIAG_MAX_EVENT_AGE="${SIGNINDIAG_MAX_EVENT_AGE:-87600h}"
API="http://${SIGNINDIAG_HTTP_ADDR}"

mkdir -p bin
go build -o bin/signindiag ./cmd/signindiag
bin/signindiag run 2> >(sed 's/^/[signindiag] /' >&2) &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 120); do
  curl -fsS "$API/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "signindiag exited; see its log above" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "$API/readyz" >/dev/null

go run ./cmd/produce -topic "${SIGNINDIAG_KAFKA_SIGNIN_TOPIC:-signin-events}" testdata/demo/signins.jsonl

show() {
  echo
  echo "\$ curl '$API$1'"
  curl -fsS "$API$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
if "diagnosticResults" in d:
    print("  %d sign-ins, %d findings" % (len(d["authenticationSummary"]), len(d["diagnosticResults"])))
    for f in d["diagnosticResults"]:
        print("  - [%s] %s (failures48h=%d, flagged=%s)" % (f["severity"], f["scenario"], f["failures48h"], f["flagged"]))
        print("    " + f["summary"])
        for r in f["recommendations"][:2]:
            print("      * " + r)
else:
    print("  " + json.dumps(d))
'
}
# Wait until the last sample (the service principal) is diagnosed.
for _ in $(seq 1 100); do
  curl -fsS "$API/v1/diagnose?requestId=e0000001-0000-4000-8000-000000000001" | grep -q error_code_insight && break
  sleep 0.3
done
show "/v1/diagnose?correlationId=c0000004-0000-4000-8000-000000000004"
show "/v1/diagnose?user=ben.okafor@contoso.example&at=2025-03-04T09:00:00Z"
show "/v1/diagnose?user=chen.li@contoso.example&app=Azure%20Portal&at=2025-03-04T11:00:00Z"
show "/v1/diagnose?requestId=e0000001-0000-4000-8000-000000000001"
show "/v1/users/ben.okafor@contoso.example/failures?at=2025-03-04T10:00:00Z"
echo
echo "Dead-lettered records: $(curl -fsS "$API/metrics" | grep '^signindiag_records_deadlettered_total' || echo none)"
echo
if [ "${DEMO_EXIT:-0}" = 1 ]; then
  exit 0
fi
echo "signindiag is running at $API (API, /metrics, /readyz). Ctrl-C stops it; 'make services-down' stops Kafka and ClickHouse."
wait "$pid"

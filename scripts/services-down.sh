#!/usr/bin/env bash
# Stop the services started by scripts/services-up.sh and remove their runtime
# state (pid files, data, logs, generated configs) and <repo>/.services.env.
# The downloaded Kafka jars (.services/kafka/jars-*) are kept as a cache.
#
# Usage: scripts/services-down.sh [kafka] [clickhouse]     (no argument: both)
#
# Idempotent: nothing running is not an error.
# Environment: SIGNINDIAG_SERVICES_DIR (default <repo>/.services),
#              SIGNINDIAG_SERVICES_STOP_TIMEOUT (seconds before SIGKILL, default 30).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${SIGNINDIAG_SERVICES_DIR:-$REPO/.services}"
STOP_TIMEOUT="${SIGNINDIAG_SERVICES_STOP_TIMEOUT:-30}"
KAFKA_RUN="$SERVICES_DIR/kafka/run"
CH_RUN="$SERVICES_DIR/clickhouse"

log() { printf '[services-down] %s\n' "$*" >&2; }

want_kafka=0 want_ch=0
if [ $# -eq 0 ]; then want_kafka=1 want_ch=1; fi
for a in "$@"; do
  case "$a" in
    kafka) want_kafka=1 ;;
    clickhouse) want_ch=1 ;;
    *) log "ERROR: unknown service '$a' (expected: kafka, clickhouse)"; exit 1 ;;
  esac
done

# pid_alive PID MARKER: the process runs and its command line contains MARKER
# (so a recycled pid of some other program is never signalled).
pid_alive() {
  [ -n "$1" ] && [ -d "/proc/$1" ] || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# stop NAME PIDFILE MARKER: SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL.
stop() {
  local name="$1" pidfile="$2" marker="$3" pid i
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if ! pid_alive "$pid" "$marker"; then
    log "$name: not running"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    pid_alive "$pid" "$marker" || { log "$name: stopped"; return 0; }
    sleep 0.2
  done
  log "$name: still running after ${STOP_TIMEOUT}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" "$marker" || { log "$name: killed"; return 0; }
    sleep 0.1
  done
  log "ERROR: $name: pid $pid survived SIGKILL"
  return 1
}

rc=0
if [ "$want_kafka" = 1 ]; then
  stop kafka "$KAFKA_RUN/kafka.pid" "$KAFKA_RUN/server.properties" || rc=1
  # Keep the jar cache ($SERVICES_DIR/kafka/jars-*), drop config/data/logs.
  if [ "$rc" = 0 ]; then rm -rf "$KAFKA_RUN"; fi
fi
if [ "$want_ch" = 1 ]; then
  stop clickhouse "$CH_RUN/clickhouse.pid" "$CH_RUN/config.xml" || rc=1
  if [ "$rc" = 0 ]; then rm -rf "$CH_RUN"; fi
fi
if [ "$want_kafka" = 1 ] && [ "$want_ch" = 1 ]; then
  rm -f "$REPO/.services.env"
fi
exit "$rc"

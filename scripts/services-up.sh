#!/usr/bin/env bash
# Start the real local services the tests need, as plain background processes
# bound to 127.0.0.1 (no Docker, no system services):
#   - Apache Kafka, single node in KRaft mode (broker + controller), jars from Maven Central
#   - ClickHouse server (Debian bookworm package, 18.16) with its own config and data dir
# and write <repo>/.services.env with the addresses.
#
# Usage: scripts/services-up.sh [kafka] [clickhouse]     (no argument: both)
#
# Idempotent: a service already started by this script (pid file alive and port
# answering) is left alone. Stop everything with scripts/services-down.sh.
#
# Environment (all optional):
#   SIGNINDIAG_SERVICES_DIR            cache/runtime dir          (default <repo>/.services)
#   SIGNINDIAG_KAFKA_VERSION           Kafka version to fetch     (default: kafka.version in services/kafka/pom.xml)
#   SIGNINDIAG_KAFKA_PORT              broker port                (default 19092)
#   SIGNINDIAG_KAFKA_CONTROLLER_PORT   KRaft controller port      (default 19093)
#   SIGNINDIAG_KAFKA_SASL_SSL_PORT     SASL_SSL listener port     (default 19094)
#   SIGNINDIAG_KAFKA_HEAP_OPTS         JVM heap options           (default "-Xms256m -Xmx512m")
#   SIGNINDIAG_CLICKHOUSE_PORT         ClickHouse native port     (default 19000)
#   SIGNINDIAG_CLICKHOUSE_HTTP_PORT    ClickHouse HTTP port       (default 18123)
#   SIGNINDIAG_SERVICES_TIMEOUT        seconds to wait for readiness (default 180)
#
# Kafka: runs `java -cp '<jars>/*' kafka.Kafka server.properties` after
# `kafka.tools.StorageTool format` (static quorum controller.quorum.voters, so
# the same config works on Kafka 3.9 and 4.x). Ready = log line "Kafka Server
# started" + a FindCoordinator round trip that succeeds (see below).
# Besides the PLAINTEXT listener the broker has a SASL_SSL one (what Azure
# Event Hubs speaks), for the tests of secured connections: a CA and a server
# certificate for 127.0.0.1/localhost made with openssl, a PLAIN user (JAAS in
# server.properties) and a SCRAM-SHA-256/512 user (stored at format time with
# StorageTool --add-scram), with random passwords. Their addresses, the CA file
# and the credentials go to .services.env as SIGNINDIAG_TEST_KAFKA_* (names
# the binary does not read, so tests choose when to use them). A broker
# started by an older version of this script has no such listener; the
# SIGNINDIAG_TEST_KAFKA_* lines are then left out.
# ClickHouse: runs the Debian 18.16 binary as the current user (root is fine
# for 18.16) with generated config.xml/users.xml under $SERVICES_DIR/clickhouse.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${SIGNINDIAG_SERVICES_DIR:-$REPO/.services}"
KAFKA_POM="$REPO/services/kafka/pom.xml"
KAFKA_VERSION="${SIGNINDIAG_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM" | head -n1)}"
KAFKA_PORT="${SIGNINDIAG_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${SIGNINDIAG_KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_SASL_SSL_PORT="${SIGNINDIAG_KAFKA_SASL_SSL_PORT:-19094}"
KAFKA_HEAP_OPTS="${SIGNINDIAG_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
CH_PORT="${SIGNINDIAG_CLICKHOUSE_PORT:-19000}"
CH_HTTP_PORT="${SIGNINDIAG_CLICKHOUSE_HTTP_PORT:-18123}"
TIMEOUT="${SIGNINDIAG_SERVICES_TIMEOUT:-180}"
HOST=127.0.0.1

KAFKA_JARS="$SERVICES_DIR/kafka/jars-$KAFKA_VERSION"   # cache, kept by services-down
KAFKA_RUN="$SERVICES_DIR/kafka/run"                    # config, data, log, pid; removed by services-down
CH_RUN="$SERVICES_DIR/clickhouse"                      # config, data, log, pid; removed by services-down

log() { printf '[services-up] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

want_kafka=0 want_ch=0
if [ $# -eq 0 ]; then want_kafka=1 want_ch=1; fi
for a in "$@"; do
  case "$a" in
    kafka) want_kafka=1 ;;
    clickhouse) want_ch=1 ;;
    *) die "unknown service '$a' (expected: kafka, clickhouse)" ;;
  esac
done

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# pid_alive PIDFILE MARKER: true if the pid in PIDFILE runs and its command line
# contains MARKER (guards against a recycled pid).
pid_alive() {
  local pidfile="$1" marker="$2" pid
  [ -s "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -d "/proc/$pid" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

mkdir -p "$SERVICES_DIR"

# ---------------------------------------------------------------- Kafka --

kafka_fetch() {
  if [ -f "$KAFKA_JARS/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  local t0 tmp; t0="$(now)"
  log "kafka: fetching Kafka $KAFKA_VERSION jars with Maven into $KAFKA_JARS"
  tmp="$KAFKA_JARS.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$SERVICES_DIR/kafka"
  if ! mvn -B -Dstyle.color=never -f "$KAFKA_POM" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
      >"$SERVICES_DIR/kafka/mvn.log" 2>&1; then
    rm -rf "$tmp"
    tail -n 30 "$SERVICES_DIR/kafka/mvn.log" >&2
    die "kafka: maven could not fetch the jars (log: $SERVICES_DIR/kafka/mvn.log)"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "kafka: kafka_2.13-$KAFKA_VERSION.jar missing after fetch"; }
  touch "$tmp/.complete"
  rm -rf "$KAFKA_JARS"
  mv "$tmp" "$KAFKA_JARS"
  log "kafka: jars fetched in $(elapsed "$t0")s"
}

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; else command -v java || die "java not found (Kafka 4 needs Java 17+)"; fi
}

# Kafka cluster ids are 16 random bytes in URL-safe base64 without padding;
# like Uuid.randomUuid(), avoid ids starting with '-' (they look like CLI flags).
random_cluster_id() {
  local id
  while :; do
    id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    case "$id" in -*) continue ;; *) echo "$id"; return ;; esac
  done
}

# kafka_security: a CA, a server certificate (PEM keystore, as Kafka reads
# PEM since 2.7) and random SASL passwords, made once per run directory.
kafka_security() {
  local sec="$KAFKA_RUN/security"
  if [ -f "$sec/.complete" ]; then return 0; fi
  command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
  rm -rf "$sec"; mkdir -p "$sec"
  (
    cd "$sec"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=signindiag test CA" \
      -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key.pem -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.crt
    # PKCS#8 key followed by the chain, in one file: Kafka's PEM keystore.
    { openssl pkcs8 -topk8 -nocrypt -in server.key.pem; cat server.crt ca.pem; } >server.keystore.pem
    printf 'PLAIN_USER=signindiag-plain\nPLAIN_PASSWORD=%s\nSCRAM_USER=signindiag-scram\nSCRAM_PASSWORD=%s\n' \
      "$(head -c18 /dev/urandom | base64 | tr '+/' 'xy')" "$(head -c18 /dev/urandom | base64 | tr '+/' 'xy')" >sasl.env
  ) >"$KAFKA_RUN/security.log" 2>&1 || { cat "$KAFKA_RUN/security.log" >&2; die "kafka: could not make the test certificates"; }
  chmod 600 "$sec"/*.key* "$sec/sasl.env"
  touch "$sec/.complete"
}

# kafka_has_sasl: the running broker's config has the SASL_SSL listener.
kafka_has_sasl() { grep -q "^listeners=.*SASL_SSL://$HOST:$KAFKA_SASL_SSL_PORT" "$KAFKA_RUN/server.properties" 2>/dev/null; }

kafka_ready() {
  pid_alive "$KAFKA_RUN/kafka.pid" "$KAFKA_RUN/server.properties" \
    && port_open "$KAFKA_PORT" \
    && grep -q "Kafka Server started" "$KAFKA_RUN/kafka.log" 2>/dev/null
}

KAFKA_T0=""
kafka_start() {
  if kafka_ready; then
    log "kafka: already running (pid $(cat "$KAFKA_RUN/kafka.pid"), $HOST:$KAFKA_PORT), leaving it"
    return 0
  fi
  if pid_alive "$KAFKA_RUN/kafka.pid" "$KAFKA_RUN/server.properties"; then
    log "kafka: process $(cat "$KAFKA_RUN/kafka.pid") exists but is not ready yet; waiting for it"
    KAFKA_T0="$(now)"
    return 0
  fi
  rm -f "$KAFKA_RUN/kafka.pid"
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_SSL_PORT"; do
    if port_open "$p"; then die "kafka: port $HOST:$p is already in use by another process (set SIGNINDIAG_KAFKA_PORT / SIGNINDIAG_KAFKA_CONTROLLER_PORT / SIGNINDIAG_KAFKA_SASL_SSL_PORT)"; fi
  done

  local java; java="$(java_bin)"
  mkdir -p "$KAFKA_RUN/data"
  if [ ! -f "$KAFKA_RUN/security/.complete" ] && [ -f "$KAFKA_RUN/data/meta.properties" ]; then
    # Storage formatted by an older version of this script: its SCRAM users
    # (stored at format time) would not match the new credentials.
    log "kafka: test data from before the SASL_SSL listener; formatting it again"
    rm -rf "$KAFKA_RUN/data"; mkdir -p "$KAFKA_RUN/data"
  fi
  kafka_security
  # shellcheck disable=SC1091 # generated just above
  . "$KAFKA_RUN/security/sasl.env"
  cat >"$KAFKA_RUN/server.properties" <<EOF
# Generated by scripts/services-up.sh: single-node KRaft broker+controller for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT,SASL_SSL://$HOST:$KAFKA_SASL_SSL_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,SASL_SSL://$HOST:$KAFKA_SASL_SSL_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
# SASL_SSL listener for the tests of secured connections (PLAIN as Event Hubs, SCRAM).
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$KAFKA_RUN/security/server.keystore.pem
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$PLAIN_USER="$PLAIN_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$KAFKA_RUN/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
EOF

  local cp="$KAFKA_JARS/*"
  if [ ! -f "$KAFKA_RUN/data/meta.properties" ]; then
    local cid; cid="$(random_cluster_id)"
    log "kafka: formatting storage (cluster id $cid)"
    "$java" -Xmx256m -XX:TieredStopAtLevel=1 -cp "$cp" kafka.tools.StorageTool \
      format --cluster-id "$cid" --config "$KAFKA_RUN/server.properties" --ignore-formatted \
      --add-scram "SCRAM-SHA-256=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" \
      --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" \
      >"$KAFKA_RUN/format.log" 2>&1 \
      || { cat "$KAFKA_RUN/format.log" >&2; die "kafka: storage format failed"; }
  fi

  log "kafka: starting Kafka $KAFKA_VERSION on $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT)"
  KAFKA_T0="$(now)"
  : >"$KAFKA_RUN/kafka.log"
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM options
  setsid nohup "$java" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dorg.slf4j.simpleLogger.dateTimeFormat="yyyy-MM-dd HH:mm:ss.SSS" \
    -cp "$cp" kafka.Kafka "$KAFKA_RUN/server.properties" \
    >>"$KAFKA_RUN/kafka.log" 2>&1 </dev/null &
  echo $! >"$KAFKA_RUN/kafka.pid"
}

# kafka_find_coordinator GROUP: send one FindCoordinator v0 request over plain
# bash /dev/tcp and print the 2-byte error code as hex ("0000" = found).
# The first such request makes the broker create __consumer_offsets; until the
# group coordinator is loaded the answer is 000f (COORDINATOR_NOT_AVAILABLE) or
# 000e (COORDINATOR_LOAD_IN_PROGRESS). kafka-go's ConsumerGroup.Next returns
# those errors to the caller instead of retrying, so we wait here for them to
# go away: tests then never see a half-initialised broker.
kafka_find_coordinator() {
  local client="signindiag-services-up" key="$1" len hex
  len=$((2 + 2 + 4 + 2 + ${#client} + 2 + ${#key}))
  exec 3<>"/dev/tcp/$HOST/$KAFKA_PORT" || return 1
  # size, api_key=10 (FindCoordinator), api_version=0, correlation_id=1, client_id, key
  local fmt
  fmt="$(printf '\\x00\\x00\\x%02x\\x%02x' $((len >> 8)) $((len & 255)))"
  fmt+='\x00\x0a\x00\x00\x00\x00\x00\x01'
  fmt+="$(printf '\\x00\\x%02x%%s\\x00\\x%02x%%s' "${#client}" "${#key}")"
  # shellcheck disable=SC2059 # fmt is built above from fixed escapes
  printf "$fmt" "$client" "$key" >&3
  # response: size(4) correlation_id(4) error_code(2) ...
  hex="$(timeout 5 dd bs=1 count=10 <&3 2>/dev/null | od -An -tx1 | tr -d ' \n')" || true
  exec 3>&-
  printf '%s\n' "${hex:16:4}"
}

# kafka_poll: 0 once the broker is fully usable; dies if the process is gone.
KAFKA_LAST_FC=""
kafka_poll() {
  if ! pid_alive "$KAFKA_RUN/kafka.pid" "$KAFKA_RUN/server.properties"; then
    tail -n 40 "$KAFKA_RUN/kafka.log" >&2 || true
    die "kafka: process exited during startup (log: $KAFKA_RUN/kafka.log)"
  fi
  kafka_ready || return 1
  KAFKA_LAST_FC="$(kafka_find_coordinator signindiag-warmup 2>/dev/null || true)"
  [ "$KAFKA_LAST_FC" = "0000" ]
}

# ----------------------------------------------------------- ClickHouse --

CH_SERVER="" CH_CLIENT=""
ch_find_bins() {
  CH_SERVER="$(command -v clickhouse-server || true)"
  CH_CLIENT="$(command -v clickhouse-client || true)"
  if [ -z "$CH_SERVER" ] && command -v clickhouse >/dev/null; then CH_SERVER="$(command -v clickhouse) server"; fi
  if [ -z "$CH_CLIENT" ] && command -v clickhouse >/dev/null; then CH_CLIENT="$(command -v clickhouse) client"; fi
}

ch_install() {
  ch_find_bins
  if [ -n "$CH_SERVER" ] && [ -n "$CH_CLIENT" ]; then return 0; fi
  local t0 sudo="" policy=/usr/sbin/policy-rc.d added_policy="" aptlog="$SERVICES_DIR/apt-clickhouse.log"
  t0="$(now)"
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  log "clickhouse: installing Debian packages clickhouse-server clickhouse-client (log: $aptlog)"
  # The package's postinst would start the system service (/etc/init.d or systemd,
  # as user clickhouse on :9000/:8123/:9009). We never use it, so forbid service
  # starts during the install with a temporary policy-rc.d (the usual Docker
  # trick) unless the machine already has one.
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, from signindiag scripts/services-up.sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    added_policy=1
    # shellcheck disable=SC2064 # expand $sudo now
    trap "$sudo rm -f $policy" EXIT
  fi
  if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        clickhouse-server clickhouse-client; } >"$aptlog" 2>&1; then
    [ -z "$added_policy" ] || $sudo rm -f "$policy"
    tail -n 30 "$aptlog" >&2
    die "clickhouse: apt-get install failed (log: $aptlog)"
  fi
  if [ -n "$added_policy" ]; then $sudo rm -f "$policy"; trap - EXIT; fi
  ch_find_bins
  { [ -n "$CH_SERVER" ] && [ -n "$CH_CLIENT" ]; } || die "clickhouse: binaries still missing after apt-get install"
  log "clickhouse: installed in $(elapsed "$t0")s"
}

ch_query() { $CH_CLIENT --host "$HOST" --port "$CH_PORT" --user default "$@"; }

ch_ready() {
  # No bare port probe here: ClickHouse logs a warning for each connection that sends nothing.
  pid_alive "$CH_RUN/clickhouse.pid" "$CH_RUN/config.xml" \
    && [ "$(ch_query --query 'SELECT 1' 2>/dev/null)" = "1" ]
}

CH_T0=""
ch_start() {
  ch_find_bins
  if ch_ready; then
    log "clickhouse: already running (pid $(cat "$CH_RUN/clickhouse.pid"), $HOST:$CH_PORT), leaving it"
    return 0
  fi
  if pid_alive "$CH_RUN/clickhouse.pid" "$CH_RUN/config.xml"; then
    log "clickhouse: process $(cat "$CH_RUN/clickhouse.pid") exists but is not ready yet; waiting for it"
    CH_T0="$(now)"
    return 0
  fi
  rm -f "$CH_RUN/clickhouse.pid"
  for p in "$CH_PORT" "$CH_HTTP_PORT"; do
    if port_open "$p"; then die "clickhouse: port $HOST:$p is already in use by another process (set SIGNINDIAG_CLICKHOUSE_PORT / SIGNINDIAG_CLICKHOUSE_HTTP_PORT)"; fi
  done

  mkdir -p "$CH_RUN/data" "$CH_RUN/tmp" "$CH_RUN/user_files" "$CH_RUN/format_schemas" "$CH_RUN/log"
  cat >"$CH_RUN/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by scripts/services-up.sh: ClickHouse (18.16) test server on loopback. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$CH_RUN/log/clickhouse-server.log</log>
        <errorlog>$CH_RUN/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>$HOST</listen_host>
    <tcp_port>$CH_PORT</tcp_port>
    <http_port>$CH_HTTP_PORT</http_port>
    <!-- no interserver_http_port: single server, nothing to replicate -->
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>1073741824</uncompressed_cache_size>
    <mark_cache_size>1073741824</mark_cache_size>
    <path>$CH_RUN/data/</path>
    <tmp_path>$CH_RUN/tmp/</tmp_path>
    <user_files_path>$CH_RUN/user_files/</user_files_path>
    <format_schema_path>$CH_RUN/format_schemas/</format_schema_path>
    <users_config>$CH_RUN/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
EOF
  cat >"$CH_RUN/users.xml" <<'EOF'
<?xml version="1.0"?>
<!-- Generated by scripts/services-up.sh -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
            <!-- 18.16 only: LowCardinality(...) columns need this at CREATE time
                 (see docs/clickhouse-compatibility.md, Types). -->
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF

  log "clickhouse: starting server on $HOST:$CH_PORT (http $HOST:$CH_HTTP_PORT)"
  CH_T0="$(now)"
  # shellcheck disable=SC2086 # CH_SERVER may be "clickhouse server"
  (cd "$CH_RUN" && exec setsid nohup $CH_SERVER --config-file="$CH_RUN/config.xml" \
    >"$CH_RUN/log/stdout.log" 2>&1 </dev/null) &
  echo $! >"$CH_RUN/clickhouse.pid"
}

# ch_poll: 0 once the server answers queries; dies if the process is gone.
ch_poll() {
  if ! pid_alive "$CH_RUN/clickhouse.pid" "$CH_RUN/config.xml"; then
    tail -n 40 "$CH_RUN/log/stdout.log" "$CH_RUN/log/clickhouse-server.err.log" >&2 2>/dev/null || true
    die "clickhouse: process exited during startup (logs: $CH_RUN/log)"
  fi
  ch_ready
}

# Wait for the servers launched above, polling both so that each one's start-up
# time is reported on its own.
wait_all() {
  local deadline=$((SECONDS + TIMEOUT)) kafka_pending=0 ch_pending=0
  if [ -n "$KAFKA_T0" ]; then kafka_pending=1; fi
  if [ -n "$CH_T0" ]; then ch_pending=1; fi
  while :; do
    if [ "$kafka_pending" = 1 ] && kafka_poll; then
      kafka_pending=0
      log "kafka: ready on $HOST:$KAFKA_PORT after $(elapsed "$KAFKA_T0")s (pid $(cat "$KAFKA_RUN/kafka.pid"))"
    fi
    if [ "$ch_pending" = 1 ] && ch_poll; then
      ch_pending=0
      log "clickhouse: ready on $HOST:$CH_PORT after $(elapsed "$CH_T0")s (pid $(cat "$CH_RUN/clickhouse.pid"))"
    fi
    if [ "$kafka_pending" = 0 ] && [ "$ch_pending" = 0 ]; then return 0; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      if [ "$kafka_pending" = 1 ]; then
        tail -n 40 "$KAFKA_RUN/kafka.log" >&2 || true
        log "kafka: not ready after ${TIMEOUT}s (log: $KAFKA_RUN/kafka.log; last FindCoordinator error code: 0x${KAFKA_LAST_FC:-none})"
      fi
      if [ "$ch_pending" = 1 ]; then
        tail -n 40 "$CH_RUN/log/clickhouse-server.err.log" >&2 2>/dev/null || true
        log "clickhouse: not ready after ${TIMEOUT}s (logs: $CH_RUN/log)"
      fi
      die "services not ready"
    fi
    sleep 0.2
  done
}

# ----------------------------------------------------------------- main --

T0="$(now)"
# Downloads/installs first, then launch both servers and wait for both, so
# their start-up times overlap.
if [ "$want_kafka" = 1 ]; then kafka_fetch; fi
if [ "$want_ch" = 1 ]; then ch_install; fi
if [ "$want_kafka" = 1 ]; then kafka_start; fi
if [ "$want_ch" = 1 ]; then ch_start; fi
wait_all

cat >"$REPO/.services.env.tmp" <<EOF
SIGNINDIAG_KAFKA_BROKERS=$HOST:$KAFKA_PORT
SIGNINDIAG_CLICKHOUSE_ADDR=$HOST:$CH_PORT
SIGNINDIAG_CLICKHOUSE_USER=default
SIGNINDIAG_CLICKHOUSE_PASSWORD=
EOF
if [ -f "$KAFKA_JARS/.complete" ]; then
  # For the tests that run a private broker of their own (kafkatest.StartPrivateBroker).
  echo "SIGNINDIAG_TEST_KAFKA_JARS=$KAFKA_JARS" >>"$REPO/.services.env.tmp"
fi
if kafka_has_sasl && [ -f "$KAFKA_RUN/security/sasl.env" ]; then
  # shellcheck disable=SC1091 # generated by kafka_security
  . "$KAFKA_RUN/security/sasl.env"
  cat >>"$REPO/.services.env.tmp" <<EOF
SIGNINDIAG_TEST_KAFKA_SASL_SSL_BROKERS=$HOST:$KAFKA_SASL_SSL_PORT
SIGNINDIAG_TEST_KAFKA_TLS_CA_FILE=$KAFKA_RUN/security/ca.pem
SIGNINDIAG_TEST_KAFKA_PLAIN_USERNAME=$PLAIN_USER
SIGNINDIAG_TEST_KAFKA_PLAIN_PASSWORD=$PLAIN_PASSWORD
SIGNINDIAG_TEST_KAFKA_SCRAM_USERNAME=$SCRAM_USER
SIGNINDIAG_TEST_KAFKA_SCRAM_PASSWORD=$SCRAM_PASSWORD
EOF
fi
mv "$REPO/.services.env.tmp" "$REPO/.services.env"
log "services up in $(elapsed "$T0")s; wrote $REPO/.services.env"

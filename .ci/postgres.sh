#!/usr/bin/env bash
# The engine as production runs it, on this machine: PostgreSQL; the Temporal server, built from
# the pinned module with the engine's verification of callers (cmd/server), on PostgreSQL
# persistence and visibility, trusting the tokens of an issuer (token --serve); every caller
# below signs in with a token: setup as an admin and the workers as workers (from token files,
# as Compose's token jobs write them), the starter as the exporter, the cluster test as each
# exporter, officer and an auditor; the setup command and the workers as Compose runs them; three
# worker processes sharing the task queue and a PostgreSQL release register, asking the partner
# agencies' permits through the single window; NMPA's and SAMR's workers in their own namespaces,
# each with its agency's token; the starter, with a declaration released on SAMR's permit; and the
# cluster test (e2e/cluster), which submits every valid example, decides as the officers, kills
# one worker mid-run and checks every outcome and the register; then, in Chromium, SAMR's officer
# signs in to the Web UI and decides in agency-samr (e2e/browser/agency-signin.test.mjs). It also
# runs the PostgreSQL tests of the release register.
#
# Run as root on Debian (it installs PostgreSQL when missing and runs it as the postgres user).
# Everything binds to loopback on free ports, data lives in a temporary directory, binaries in
# bin/; everything started is stopped on exit. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo /root/go)/bin:$PATH"
began=$SECONDS
say() { printf '== %s (%ds)\n' "$*" $((SECONDS - began)); }

namespace=customs
workers=3
# The stock temporal CLI lists the agencies' reviews as an administrator (.ci/run installs it), and
# jq reads the starter's JSON.
for tool in temporal jq; do
  command -v "$tool" >/dev/null || { echo "$tool is needed: .ci/run installs the temporal CLI (github.com/temporalio/cli v1.5.1); jq is Debian's" >&2; exit 1; }
done

# --- PostgreSQL binaries -------------------------------------------------------------------
pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pg_bindir)" ] || [ ! -x "$(pg_bindir)/initdb" ]; then
  say "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  # The package may start its default cluster; this script runs its own, so stop that one.
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters --no-header | awk '$4 == "online" {print $1, $2}' | while read -r version cluster; do
      pg_ctlcluster "$version" "$cluster" stop || true
    done
  fi
fi
pgbin=$(pg_bindir)
id postgres >/dev/null

# --- the work directory and the cleanup of all we start ------------------------------------
work=$(mktemp -d /tmp/customs-cluster.XXXXXX)
chmod 755 "$work"
pids=()
pg_started=
cleanup() {
  local status=$?
  trap - EXIT
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$pg_started" ]; then
    as_postgres "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ "$status" -ne 0 ]; then
    local said
    said=$(grep -v '^[{ ]' "$work/script.out" 2>/dev/null | tail -n 15 || true)
    echo "== failed (exit $status); last lines of the logs:"
    for f in "$work"/*.log "$work"/pgrun/*.log; do
      [ -f "$f" ] || continue
      echo "--- $f"
      tail -n 25 "$f"
    done
    # What the step that failed said, last, where a reader of the tail finds it: the script's own
    # lines, and what the cluster test reported.
    echo "== the step that failed (exit $status):"
    if [ -f "$work/cluster-test.log" ]; then
      grep -E -- '--- FAIL|_test\.go:[0-9]+: ' "$work/cluster-test.log" | tail -n 40 || true
    fi
    echo "$said"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
# The script's own lines go to a file too, for the failure's summary.
exec > >(tee "$work/script.out") 2>&1

# as_postgres runs a command as the postgres user, from a directory it may enter.
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
. .ci/lib.sh

# --- build ---------------------------------------------------------------------------------
say "building the Temporal server (cmd/server), its SQL tool, worker, starter, setup and token"
# One build, so the go command overlaps compiling and linking; the server's packages come from
# the build cache when go test ./... ran before.
go build -o bin/ ./cmd/server go.temporal.io/server/cmd/tools/sql ./worker ./starter ./cmd/setup ./cmd/token ./cmd/auditor
go build -o bin/ui-server github.com/temporalio/ui-server/v2/cmd/server
mv -f bin/sql bin/temporal-sql-tool
ui_server_dir=$(go list -m -f '{{.Dir}}' github.com/temporalio/ui-server/v2)
server_dir=$(go list -m -f '{{.Dir}}' go.temporal.io/server)
server_version=$(go list -m -f '{{.Version}}' go.temporal.io/server)
schema_dir="$server_dir/schema/postgresql/v12"

# --- PostgreSQL ----------------------------------------------------------------------------
pg_port=$(free_ports 25432 1)
temporal_pw="temporal-$RANDOM$RANDOM"
customs_pw="customs-$RANDOM$RANDOM"
say "starting PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
install -d -o postgres -g postgres -m 700 "$work/pg"
install -d -o postgres -g postgres -m 755 "$work/pgrun"
as_postgres "$pgbin/initdb" -D "$work/pg" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1
pg_started=1
as_postgres "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pgrun/postgres.log" -w -t 60 \
  -o "-p $pg_port -k $work/pgrun -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
psql_admin() { as_postgres "$pgbin/psql" -h "$work/pgrun" -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_admin -c "CREATE ROLE temporal LOGIN CREATEDB PASSWORD '$temporal_pw'"
# The release register's role and database as the Compose stack's PostgreSQL creates them.
as_postgres env POSTGRES_USER=postgres PGHOST="$work/pgrun" PGPORT="$pg_port" CUSTOMS_DB_PASSWORD="$customs_pw" \
  sh "$PWD/deploy/postgres/init-customs.sh" >"$work/init-customs.log" 2>&1 || { cat "$work/init-customs.log"; exit 1; }
psql_admin -c "CREATE DATABASE customs_test OWNER customs"
release_url="postgres://customs:$customs_pw@127.0.0.1:$pg_port/customs?sslmode=disable"
test_url="postgres://customs:$customs_pw@127.0.0.1:$pg_port/customs_test?sslmode=disable"

say "setting up the Temporal schemas: deploy/postgres/setup-schema.sh with temporal-sql-tool, twice"
for run in 1 2; do
  PATH="$PWD/bin:$PATH" SQL_HOST=127.0.0.1 SQL_PORT=$pg_port SQL_USER=temporal SQL_PASSWORD=$temporal_pw \
    SCHEMA_DIR="$schema_dir" sh deploy/postgres/setup-schema.sh >"$work/schema$run.log" 2>&1
done
tail -n 1 "$work/schema2.log"

# --- PostgreSQL tests of the release register ------------------------------------------------
# The engine's choice of PostgreSQL is exercised by the workers below.
say "PostgreSQL tests of the release register: go test ./register"
CUSTOMS_TEST_POSTGRES_URL="$test_url" go test -count=1 -run 'Postgres' -v ./register >"$work/pgtests.log" 2>&1 ||
  { cat "$work/pgtests.log"; exit 1; }
grep -E '^(--- |ok|FAIL)' "$work/pgtests.log"
if grep -q -- '--- SKIP' "$work/pgtests.log"; then echo "a PostgreSQL test skipped with a database given" >&2; exit 1; fi

# --- the issuer ------------------------------------------------------------------------------
# The Compose stack's identity service: the development issuer, publishing its keys and signing
# the Web UI's users in. As there, a browser reaches it by one name (the issuer, 127.0.0.1) and
# the servers by another (the backchannel, localhost).
idp_port=$(free_ports 28235 1)
ui_port=$(free_ports 28233 1)
issuer="http://127.0.0.1:$idp_port"
backchannel="http://localhost:$idp_port"
ui="http://127.0.0.1:$ui_port"
ui_secret="ui-$RANDOM$RANDOM"
say "starting the issuer $issuer (token --serve), for the Web UI too"
CUSTOMS_UI_CLIENT_SECRET=$ui_secret bin/token --serve --data-dir "$work/identity" --auth-port "$idp_port" --issuer-url "$issuer" \
  --backchannel-url "$backchannel" --ui-callback "$ui/auth/sso/callback" >"$work/identity.log" 2>&1 &
pids+=($!)
wait_for 30 "the issuer's keys" curl -sf "$issuer/.well-known/jwks.json"
sign() { bin/token --data-dir "$work/identity" --issuer-url "$issuer" --ttl 2h "$@"; }
# Tokens travel without TLS on loopback.
export TEMPORAL_TLS=false

# --- Temporal server -----------------------------------------------------------------------
# The Compose stack's temporal service, as its image runs it: cmd/server on the Temporal server's
# embedded configuration template, with the service's environment from deploy/compose.yaml (and
# TEMPORAL_BROADCAST_ADDRESS, which the server sets itself in the image). Only what names the
# network and the mounted file differs: the database's address and password, the bind address,
# the metrics port, the issuer's address, and the dynamic configuration file at its place in
# this tree. deploy_test.go TestPostgresScriptRunsTheComposeServer holds the two lists together.
address="127.0.0.1:7233"
for port in 7233 7234 7235 7236 7239 7243 7246 6933 6934 6935 6936 6939; do
  port_free "$port" || { echo "port $port is in use: the Compose server's configuration needs it" >&2; exit 1; }
done
server_metrics=$(free_ports 29000 1)
temporal_env=(
  DB=postgres12
  DB_PORT=$pg_port
  POSTGRES_SEEDS=127.0.0.1
  POSTGRES_USER=temporal
  POSTGRES_PWD=$temporal_pw
  BIND_ON_IP=127.0.0.1
  TEMPORAL_BROADCAST_ADDRESS=127.0.0.1
  PROMETHEUS_ENDPOINT=127.0.0.1:$server_metrics
  DYNAMIC_CONFIG_FILE_PATH=$PWD/deploy/temporal/dynamicconfig.yaml
  USE_INTERNAL_FRONTEND=true
  CUSTOMS_AUTH_ISSUER=$issuer
  CUSTOMS_AUTH_JWKS_URL=$backchannel/.well-known/jwks.json
  CUSTOMS_AUTH_NAMESPACE=customs
)
say "starting Temporal server $server_version on $address as the Compose service runs it (PostgreSQL persistence and visibility, callers verified)"
env "${temporal_env[@]}" bin/server >"$work/temporal.log" 2>&1 &
pids+=($!)
wait_for 120 "the server's frontend" bin/server healthcheck --address "$address"

say "a call without a token is refused with the reason"
rc=0
bin/setup --address "$address" --namespace "$namespace" >"$work/anonymous.out" 2>&1 || rc=$?
[ "$rc" = 6 ] && grep -q "refused this caller: no token" "$work/anonymous.out" ||
  { echo "setup without a token: exit $rc, want 6 with the reason:"; cat "$work/anonymous.out"; exit 1; }
cat "$work/anonymous.out"

# The Compose stack's token jobs, setup and worker services, as their image runs them: the tokens
# written to files as admin-token and worker-token write them, and the arguments and environment
# compose.yaml gives setup and the workers. Only the address, the ports and the files' places
# differ; deploy_test.go TestPostgresScriptRunsTheComposeSetupAndWorkers holds them together.
mkdir -p "$work/tokens"
sign --role admin --subject compose-setup --ttl 1h --out "$work/tokens/admin.token" >/dev/null
sign --role worker --subject compose-worker --ttl 720h --out "$work/tokens/worker.token" >/dev/null
sign --agency NMPA --role worker --subject compose-agency-nmpa-worker --ttl 720h --out "$work/tokens/agency-nmpa-worker.token" >/dev/null
sign --agency SAMR --role worker --subject compose-agency-samr-worker --ttl 720h --out "$work/tokens/agency-samr-worker.token" >/dev/null
say "setup: namespace $namespace, search attributes and the agencies on the single window (run twice), signed in as an admin"
setup_args=(--address "$address" --namespace customs --create-namespace --retention 1080h --archive "file://$work/archive" --wait 5m --make-current always
  --agencies NMPA,SAMR)
CUSTOMS_API_KEY_FILE=$work/tokens/admin.token bin/setup "${setup_args[@]}" | tee "$work/setup1.out"
CUSTOMS_API_KEY_FILE=$work/tokens/admin.token bin/setup "${setup_args[@]}" | tee "$work/setup2.out"
grep -q "created" "$work/setup1.out"
grep -q "exists" "$work/setup2.out"
# The workers' build is made current before they start (they may not do it themselves), once.
grep -q "made current" "$work/setup1.out"
grep -q "is current already" "$work/setup2.out"
if grep -q "added" "$work/setup2.out"; then echo "the second setup run changed something" >&2; exit 1; fi
for a in nmpa samr; do
  grep -q "namespace agency-$a, Nexus endpoint agency-$a to task queue agency-review, called from namespace customs" "$work/setup2.out" ||
    { echo "setup --agencies did not put agency-$a on the single window" >&2; exit 1; }
done

# --- the partner agencies' workers -----------------------------------------------------------
# Compose's agency-nmpa-worker and agency-samr-worker, as the image runs them: the worker with
# --agency in the agency's namespace, signed in with the agency's token. They start before
# customs' workers, whose clearances ask them at once.
nmpa_health=$(free_ports 28180 1) nmpa_metrics=$(free_ports 29180 1)
samr_health=$(free_ports $((nmpa_health + 1)) 1) samr_metrics=$(free_ports $((nmpa_metrics + 1)) 1)
agency_nmpa_worker_args=(--address "$address" --agency NMPA --namespace agency-nmpa --agency-callers customs
  --health-addr "127.0.0.1:$nmpa_health" --metrics-addr "127.0.0.1:$nmpa_metrics" --shutdown-timeout 65s --log-json --versioning=false)
agency_samr_worker_args=(--address "$address" --agency SAMR --namespace agency-samr --agency-callers customs
  --health-addr "127.0.0.1:$samr_health" --metrics-addr "127.0.0.1:$samr_metrics" --shutdown-timeout 65s --log-json --versioning=false)
say "starting NMPA's and SAMR's workers on task queue agency-review of agency-nmpa and agency-samr, as the Compose services run them"
agency_pids=()
mkdir -p "$work/agency-nmpa" "$work/agency-samr"
CUSTOMS_DATA_DIR=$work/agency-nmpa CUSTOMS_NOTIFICATIONS=- CUSTOMS_API_KEY_FILE=$work/tokens/agency-nmpa-worker.token \
  bin/worker "${agency_nmpa_worker_args[@]}" >"$work/agency-nmpa-worker.log" 2>&1 &
pids+=($!)
agency_pids+=($!)
CUSTOMS_DATA_DIR=$work/agency-samr CUSTOMS_NOTIFICATIONS=- CUSTOMS_API_KEY_FILE=$work/tokens/agency-samr-worker.token \
  bin/worker "${agency_samr_worker_args[@]}" >"$work/agency-samr-worker.log" 2>&1 &
pids+=($!)
agency_pids+=($!)
wait_for 60 "NMPA's worker /readyz" bin/worker healthcheck --url "http://127.0.0.1:$nmpa_health/readyz"
wait_for 60 "SAMR's worker /readyz" bin/worker healthcheck --url "http://127.0.0.1:$samr_health/readyz"
echo "agency workers ready: pids ${agency_pids[*]}"

say "an agency's token works in its own namespace only, and customs' worker token in none of them"
rc=0
CUSTOMS_API_KEY_FILE=$work/tokens/agency-nmpa-worker.token bin/worker --address "$address" --agency NMPA --namespace agency-samr \
  --agency-callers customs --versioning=false >"$work/misplaced.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "NMPA's worker works in namespace agency-nmpa" "$work/misplaced.out" ||
  { echo "NMPA's worker in agency-samr: exit $rc, want 2 naming its namespace:"; cat "$work/misplaced.out"; exit 1; }
refused() { # refused TOKEN-FILE NAMESPACE: reading the agency's reviews there is refused, the token being out of its namespace
  local out rc=0
  out=$(CUSTOMS_API_KEY_FILE=$1 bin/auditor replay --query "WorkflowType = 'AgencyReview'" --address "$address" --namespace "$2" 2>&1) || rc=$?
  [ "$rc" != 0 ] && grep -q "may work only in" <<<"$out" || { echo "$1 in $2: exit $rc, want refused as out of its namespace: $out" >&2; return 1; }
  echo "  refused in $2: $(grep -o "[^(]*may work only in[^:)]*" <<<"$out" | head -n 1)"
}
refused "$work/tokens/agency-nmpa-worker.token" agency-samr
refused "$work/tokens/worker.token" agency-nmpa

# --- workers -------------------------------------------------------------------------------
health_base=$(free_ports 28080 "$workers")
metrics_base=$(free_ports 29090 "$workers")
worker_pids=()
say "starting $workers workers on task queue customs-clearance, release register in PostgreSQL, as the Compose service runs them"
for i in $(seq 1 "$workers"); do
  mkdir -p "$work/worker$i"
  health=$((health_base + i - 1)) metrics=$((metrics_base + i - 1))
  worker_args=(--address "$address" --namespace customs --health-addr "127.0.0.1:$health"
    --metrics-addr "127.0.0.1:$metrics" --shutdown-timeout 65s --log-json --make-current never --single-window NMPA,SAMR)
  # The image's environment (deploy/Dockerfile), then the service's.
  CUSTOMS_DATA_DIR=$work/worker$i CUSTOMS_NOTIFICATIONS=- \
    CUSTOMS_RELEASE_DB=$release_url CUSTOMS_API_KEY_FILE=$work/tokens/worker.token \
    bin/worker "${worker_args[@]}" >"$work/worker$i.log" 2>&1 &
  pids+=($!)
  worker_pids+=($!)
done
for i in $(seq 1 "$workers"); do
  wait_for 60 "worker $i /readyz" bin/worker healthcheck --url "http://127.0.0.1:$((health_base + i - 1))/readyz"
done
echo "workers ready: pids ${worker_pids[*]}, health on 127.0.0.1:$health_base-$((health_base + workers - 1))"

# --- the starter ---------------------------------------------------------------------------
say "starter: submit and wait for a green-lane declaration"
export TEMPORAL_ADDRESS=$address TEMPORAL_NAMESPACE=$namespace
exporter_token=$(sign --exporter 3302960178 --subject exporter-3302960178)
TEMPORAL_API_KEY=$exporter_token bin/starter submit examples/us-nasal-cannulas-anaesthesia-masks.json
TEMPORAL_API_KEY=$exporter_token bin/starter wait NBKR-2020-000331 >"$work/starter-wait.out"
grep -q "released" "$work/starter-wait.out"
head -n 3 "$work/starter-wait.out"

# --- the single window ------------------------------------------------------------------------
# Respirators need SAMR's permit: the clearance asks SAMR's worker through the endpoint
# agency-samr, SAMR's checks find the producer on its list and grant by its rules, and the
# green-lane clearance is released without an officer, its permit on record.
say "single window: a green-lane declaration of respirators released on SAMR's permit"
ffp2_exporter=$(jq -r .exporter.code examples/it-ffp2-respirators.json)
ffp2_id=$(jq -r .id examples/it-ffp2-respirators.json)
ffp2_token=$(sign --exporter "$ffp2_exporter" --subject "exporter-$ffp2_exporter")
TEMPORAL_API_KEY=$ffp2_token bin/starter submit examples/it-ffp2-respirators.json
TEMPORAL_API_KEY=$ffp2_token timeout 120 bin/starter wait "$ffp2_id" >"$work/ffp2-wait.out" ||
  { echo "$ffp2_id did not end released:"; cat "$work/ffp2-wait.out"; TEMPORAL_API_KEY=$ffp2_token bin/starter status "$ffp2_id"; exit 1; }
TEMPORAL_API_KEY=$ffp2_token bin/starter status "$ffp2_id" --json >"$work/ffp2-status.json"
jq -e '.state == "released" and (.permits | length) == 1 and .permits[0].agency == "SAMR"
  and .permits[0].result.disposition == "granted" and (.permits[0].result.permit | startswith("SAMR-"))' "$work/ffp2-status.json" >/dev/null ||
  { echo "$ffp2_id: not released on SAMR's granted permit:"; jq '{state, permits}' "$work/ffp2-status.json"; exit 1; }
ffp2_permit=$(jq -r '.permits[0].result.permit' "$work/ffp2-status.json")
echo "$ffp2_id released on SAMR's permit $ffp2_permit"
# The review ran in SAMR's namespace, which an administrator lists.
admin_token=$(sign --role admin --subject ci-admin)
temporal workflow list --address "$address" --namespace agency-samr --api-key "$admin_token" --tls=false \
  --query "WorkflowType = 'AgencyReview' AND DeclarationId = '$ffp2_id' AND PermitStatus = 'granted'" --output json >"$work/samr-reviews.json"
[ "$(jq length "$work/samr-reviews.json")" = 1 ] ||
  { echo "agency-samr holds no granted review of $ffp2_id:"; cat "$work/samr-reviews.json"; exit 1; }
echo "agency-samr: review $(jq -r '.[0].execution.workflowId' "$work/samr-reviews.json") granted"

# --- the Web UI ----------------------------------------------------------------------------
# The Compose stack's temporal-ui service, as its image runs it: Temporal's UI server (built from
# the pinned module) with --env docker on its own configuration template, rendered from the
# service's environment. Only the addresses differ. deploy_test.go
# TestPostgresScriptRunsTheComposeUI holds the two lists together.
ui_env=(
  TEMPORAL_ADDRESS=$address
  TEMPORAL_UI_PORT=$ui_port
  TEMPORAL_DEFAULT_NAMESPACE=customs
  TEMPORAL_CORS_ORIGINS=$ui
  TEMPORAL_AUTH_ENABLED=true
  TEMPORAL_AUTH_PROVIDER_URL=$backchannel
  TEMPORAL_AUTH_ISSUER_URL=$issuer
  TEMPORAL_AUTH_CLIENT_ID=customs-web-ui
  TEMPORAL_AUTH_CLIENT_SECRET=$ui_secret
  TEMPORAL_AUTH_CALLBACK_URL=$ui/auth/sso/callback
  TEMPORAL_AUTH_SCOPES=openid,profile,email
  TEMPORAL_WORKFLOW_TERMINATE_DISABLED=true
  TEMPORAL_WORKFLOW_RESET_DISABLED=true
  TEMPORAL_WORKFLOW_CANCEL_DISABLED=true
  TEMPORAL_WORKFLOW_SIGNAL_DISABLED=true
  TEMPORAL_WORKFLOW_PAUSE_DISABLED=true
  TEMPORAL_START_WORKFLOW_DISABLED=true
  TEMPORAL_BATCH_ACTIONS_DISABLED=true
  TEMPORAL_ACTIVITY_COMMANDS_DISABLED=true
)
say "starting the Web UI server on $ui as the Compose service runs it (officers sign in at the issuer)"
env "${ui_env[@]}" bin/ui-server --root "$ui_server_dir" --env docker start >"$work/ui.log" 2>&1 &
pids+=($!)
wait_for 60 "the Web UI" curl -sf "$ui/healthz"

# --- the cluster test ----------------------------------------------------------------------
say "cluster test: every valid example, officers' decisions, one worker killed mid-run"
CUSTOMS_CLUSTER_ADDRESS=$address CUSTOMS_CLUSTER_NAMESPACE=$namespace CUSTOMS_CLUSTER_RELEASE_DB=$release_url \
  CUSTOMS_CLUSTER_ISSUER_KEY="$work/identity/auth/issuer.pem" CUSTOMS_CLUSTER_ISSUER_URL="$issuer" CUSTOMS_CLUSTER_UI_URL="$ui" \
  CUSTOMS_CLUSTER_WORKER_PIDS=$(IFS=,; echo "${worker_pids[*]}") CUSTOMS_CLUSTER_REPORT="$work/report.txt" \
  go test -count=1 -v -timeout 10m ./e2e/cluster/ >"$work/cluster-test.log" 2>&1 ||
  { cat "$work/cluster-test.log"; exit 1; }
grep -E '^(--- |ok|FAIL)' "$work/cluster-test.log"
if grep -q -- '--- SKIP' "$work/cluster-test.log"; then echo "the cluster test skipped" >&2; exit 1; fi
killed=$(sed -n 's/^killed worker pid //p' "$work/report.txt")

# The cluster test's antibody test kits (declaration ID suffixed -c and six hex digits) needed
# NMPA's permit besides the officers' decisions: the review NMPA granted is named after the
# clearance (permit-review-clearance-EXPORTER-DECLARATION~NMPA~N), which has the permit on record.
say "single window: the cluster test's antibody test kits released on NMPA's permit"
kits_exporter=$(jq -r .exporter.code examples/de-antibody-test-kits.json)
kits_id=$(jq -r .id examples/de-antibody-test-kits.json)
temporal workflow list --address "$address" --namespace agency-nmpa --api-key "$admin_token" --tls=false \
  --query "WorkflowType = 'AgencyReview' AND PermitStatus = 'granted' AND DeclarationId STARTS_WITH '$kits_id-'" --output json >"$work/nmpa-reviews.json"
kits_run=$(jq -r '.[].execution.workflowId' "$work/nmpa-reviews.json" |
  sed -n "s/^permit-review-clearance-$kits_exporter-\($kits_id-c[0-9a-f]\{6\}\)~NMPA~[0-9]*\$/\1/p")
[ "$(wc -w <<<"$kits_run")" = 1 ] ||
  { echo "agency-nmpa holds no granted review of the cluster test's $kits_id:"; jq -r '.[].execution.workflowId' "$work/nmpa-reviews.json"; exit 1; }
kits_token=$(sign --exporter "$kits_exporter" --subject "exporter-$kits_exporter")
TEMPORAL_API_KEY=$kits_token bin/starter status "$kits_run" --json >"$work/kits-status.json"
jq -e '.state == "released" and any(.permits[]; .agency == "NMPA" and .result.disposition == "granted")' "$work/kits-status.json" >/dev/null ||
  { echo "$kits_run: not released on NMPA's granted permit:"; jq '{state, permits}' "$work/kits-status.json"; exit 1; }
kits_permit=$(jq -r '.permits[] | select(.agency == "NMPA") | .result.permit' "$work/kits-status.json")
echo "$kits_run released on NMPA's permit $kits_permit"

# --- an agency's officer in a real browser -----------------------------------------------------
# SAMR's officer signs in to the Web UI at the issuer in Chromium and grants the permit in
# agency-samr; customs' clearance takes it (e2e/browser/agency-signin.test.mjs).
say "browser: SAMR's officer signs in to the Web UI and decides in agency-samr"
bash .ci/browser-deps.sh
masks_exporter=$(jq -r .exporter.code examples/it-face-masks-unlisted-producer.json)
masks_id="$(jq -r .id examples/it-face-masks-unlisted-producer.json)-browser"
masks_token=$(sign --exporter "$masks_exporter" --subject "exporter-$masks_exporter")
jq --arg id "$masks_id" '.id = $id' examples/it-face-masks-unlisted-producer.json >"$work/masks.json"
TEMPORAL_API_KEY=$masks_token bin/starter submit "$work/masks.json"
mkdir -p artifacts/browser
(
  cd e2e/browser
  CUSTOMS_UI_URL="$ui" CUSTOMS_GRPC_ADDRESS="$address" CUSTOMS_NAMESPACE="$namespace" CUSTOMS_STARTER="$PWD/../../bin/starter" \
    CUSTOMS_EXPORTER_TOKEN="$masks_token" CUSTOMS_DECLARATION="$masks_id" CUSTOMS_ARTIFACTS="$PWD/../../artifacts/browser" \
    CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" timeout --kill-after=10 240 node --test agency-signin.test.mjs
) >"$work/agency-browser.log" 2>&1 ||
  { cat "$work/agency-browser.log"; echo "screenshots in artifacts/browser/; the Web UI's refused calls:"
    grep -E '"status":(4|5)[0-9][0-9]' "$work/ui.log" | tail -n 20; exit 1; }
grep -E '^# (pass|fail)' "$work/agency-browser.log"

# --- the archive ------------------------------------------------------------------------------
# The server archives each closed clearance within history.archivalProcessorArchiveDelay (1m in
# deploy/temporal/dynamicconfig.yaml); the auditor replays the archive without the server.
say "the archive: closed histories replayed by the auditor from $work/archive"
wait_for 120 "an archived history" sh -c "ls '$work/archive' | grep -q '\.history\$'"
bin/auditor replay --archive "$work/archive" >"$work/archive.out" 2>"$work/archive.err" ||
  { echo "auditor replay --archive failed:"; cat "$work/archive.out" "$work/archive.err"; exit 1; }
cat "$work/archive.out"
archived=$(sed -n 's/^matched [0-9]*, replayed \([0-9]*\),.*/\1/p' "$work/archive.out")
[ "${archived:-0}" -gt 0 ] || { echo "the archive holds no clearance" >&2; exit 1; }
# --- the server's metrics: how it labels the task queue ---------------------------------------
# deploy/k8s/hpa.yaml names the backlog metric for autoscaling; the label must be spelled as this
# server writes it.
spelled=$(curl -sf "http://127.0.0.1:$server_metrics/metrics" | grep -o 'taskqueue="customs[-_]clearance"' | sort -u | head -n 1 || true)
[ -n "$spelled" ] || { echo "the server's metrics name no task queue customs-clearance" >&2; exit 1; }
grep -qF "approximate_backlog_count{$spelled}" deploy/k8s/hpa.yaml ||
  { echo "deploy/k8s/hpa.yaml does not name the backlog as the server labels it: $spelled" >&2; exit 1; }
echo "server metrics label the task queue $spelled"
curl -sf "http://127.0.0.1:$server_metrics/metrics" >"$work/server-metrics.txt" || true
# docs/operations.md names an agency's backlog for its operators: spelled as this server writes
# the agency's namespace and task queue.
agency_lines=$(grep 'namespace="agency[-_]samr"' "$work/server-metrics.txt" | grep 'taskqueue="agency[-_]review"' || true)
[ -n "$agency_lines" ] || { echo "the server's metrics name no task queue agency-review in agency-samr" >&2; exit 1; }
agency_spelled=$(grep -o 'namespace="agency[-_]samr"' <<<"$agency_lines" | sort -u | head -n 1),$(grep -o 'taskqueue="agency[-_]review"' <<<"$agency_lines" | sort -u | head -n 1)
grep -qF "approximate_backlog_count{${agency_spelled//samr/nmpa}}" docs/operations.md ||
  { echo "docs/operations.md does not name an agency's backlog as the server labels it: ${agency_spelled//samr/nmpa}" >&2; exit 1; }
echo "server metrics label the agencies' task queue $agency_spelled"

# --- the register as PostgreSQL holds it, and a graceful stop of the survivors ---------------
notices=$(psql_admin -d customs -c "SELECT count(*) FROM release_notices")
distinct=$(psql_admin -d customs -c "SELECT count(DISTINCT number) FROM release_notices")
[ "$notices" = "$distinct" ] || { echo "$notices notices but $distinct distinct numbers" >&2; exit 1; }

say "stopping the surviving workers with SIGTERM"
stopped=0
for pid in "${worker_pids[@]}"; do
  [ "$pid" = "$killed" ] && continue
  kill -TERM "$pid"
  if wait "$pid"; then stopped=$((stopped + 1)); else echo "worker $pid exited $? on SIGTERM" >&2; exit 1; fi
done
grep -h '"worker stopped"' "$work"/worker*.log | wc -l | grep -qx "$stopped"
say "stopping the agencies' workers with SIGTERM"
for pid in "${agency_pids[@]}"; do
  kill -TERM "$pid"
  if ! wait "$pid"; then echo "agency worker $pid exited $? on SIGTERM" >&2; exit 1; fi
done
grep -h '"worker stopped"' "$work"/agency-*-worker.log | wc -l | grep -qx 2

say "covered"
sed 's/^/  /' "$work/report.txt"
echo "  starter: NBKR-2020-000331 submitted and released through bin/starter"
echo "  setup: run twice against the fresh cluster as an admin; the second run changed nothing; without a token refused"
echo "  callers: verified by the server against the issuer $issuer (cmd/server); setup and the workers from Compose's token files, every other party with its own token"
echo "  setup and workers: Compose's arguments and environment (deploy_test.go TestPostgresScriptRunsTheComposeSetupAndWorkers)"
echo "  Web UI: Temporal's UI server as the Compose service runs it; doc-li signed in through it and decided, verified; an exporter refused"
echo "  Web UI: SAMR's officer signed in through it and refused SAMR's permit in agency-samr; the clearance ended refused, naming SAMR; doc-li refused there"
echo "  browser: in Chromium, SAMR's officer signed in at the issuer and granted SAMR's permit in agency-samr through the update dialog, as themself; the clearance took it"
echo "  workers: $workers started; pid $killed killed with SIGKILL by the test; $stopped stopped gracefully on SIGTERM"
echo "  single window: setup --agencies NMPA,SAMR; NMPA's and SAMR's workers as Compose runs them, each with its agency's token (refused in the other's namespace, as customs' worker token is in theirs)"
echo "  single window: $ffp2_id released on SAMR's permit $ffp2_permit, no officer; $kits_run released on NMPA's permit $kits_permit; the reviews listed in agency-samr and agency-nmpa"
echo "  release register (PostgreSQL): $notices notices, $distinct distinct numbers"
echo "  archive: $archived closed clearances archived by the server and replayed by bin/auditor replay --archive"
echo "  PostgreSQL tests: $(grep -c -- '--- PASS' "$work/pgtests.log") passed"
echo "  server metrics: the task queue is labelled $spelled, as deploy/k8s/hpa.yaml names it; the agencies' $agency_spelled"
echo "  Temporal server $server_version, PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'), total $((SECONDS - began))s"

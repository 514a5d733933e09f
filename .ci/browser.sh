#!/usr/bin/env bash
# The officer's day in the stock Temporal Web UI, in Debian's Chromium (e2e/browser/): builds
# and starts the devserver on free loopback ports with a fresh data dir, an archive and a short
# expedited allowance, submits example declarations with the starter, and runs node's test runner.
# Then a second devserver with --auth, for signing in through the identity provider, at 127.0.0.1
# and at localhost (signin.test.mjs).
# Screenshots land in artifacts/browser/. Needs Go, Node.js 20+ and npm; installs chromium from
# Debian's packages when it is missing. With UPDATE_DOC_IMAGES=1 it also copies the screenshots
# that docs/officers.md shows to docs/img/.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$PATH"
# The devserver, the starter and the tests get only what this script gives them.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(CUSTOMS|TEMPORAL)_' || true)
started=$(date +%s)
artifacts="$PWD/artifacts/browser"
chromium="${CHROMIUM:-/usr/bin/chromium}"
phase() { echo "== browser: $* (at $(( $(date +%s) - started ))s)"; }

phase "chromium, node and the tests' packages"
bash .ci/browser-deps.sh

work=$(mktemp -d)
devserver_pid=""
stop_devserver() {
  if [ -n "$devserver_pid" ] && kill -0 "$devserver_pid" 2>/dev/null; then
    kill -TERM "$devserver_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$devserver_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$devserver_pid" 2>/dev/null || true
    wait "$devserver_pid" 2>/dev/null || true
  fi
  devserver_pid=""
}
cleanup() {
  local rc=$?
  stop_devserver
  rm -rf "$work"
  echo "== browser: done in $(( $(date +%s) - started ))s (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

phase "build devserver, starter and token"
go build -o "$work/devserver" ./deploy/devserver
go build -o "$work/starter" ./starter
go build -o "$work/token" ./cmd/token

rm -rf "$artifacts"
mkdir -p "$artifacts"

# Free loopback ports, held together so they differ.
free_ports() {
  node -e '
    const net = require("net");
    const n = Number(process.argv[1]), held = [];
    const next = () => {
      if (held.length === n) { console.log(held.map((s) => s.address().port).join(" ")); held.forEach((s) => s.close()); return; }
      const s = net.createServer().listen(0, "127.0.0.1", () => { held.push(s); next(); });
    };
    next();' "$1"
}
# wait_for_ui waits for the devserver's banner and its Web UI's answer at $1.
wait_for_ui() {
  for i in $(seq 1 120); do
    if ! kill -0 "$devserver_pid" 2>/dev/null; then
      echo "devserver exited:"; tail -n 40 "$2"; exit 1
    fi
    if grep -q "Customs clearance engine is running" "$2" &&
       node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status < 500 ? 0 : 1), () => process.exit(1))' "$1/api/v1/settings"; then
      return
    fi
    if [ "$i" = 120 ]; then
      echo "the Web UI did not answer within 60s:"; tail -n 40 "$2"; exit 1
    fi
    sleep 0.5
  done
}
read -r grpc_port ui_port < <(free_ports 2)
grpc="127.0.0.1:$grpc_port"
ui="http://127.0.0.1:$ui_port"

phase "devserver on $grpc, Web UI $ui"
"$work/devserver" --data-dir "$work/data" --port "$grpc_port" --ui-port "$ui_port" \
  --policy e2e/browser/testdata/policy.json --archive "$work/data/archive" --archive-delay 1s \
  --log-level warn >"$artifacts/devserver.log" 2>&1 &
devserver_pid=$!

wait_for_ui "$ui" "$artifacts/devserver.log"

phase "submit example declarations"
"$work/starter" --address "$grpc" --ui "$ui" submit \
  examples/us-nasal-cannulas-anaesthesia-masks.json \
  examples/de-antibody-test-kits.json \
  examples/us-n95-respirators-niosh.json \
  examples/fr-biological-class-b.json \
  examples/expedited-emergency-ventilators.json | tee "$artifacts/submitted.tsv"

phase "node --test (e2e/browser)"
(
  cd e2e/browser
  CUSTOMS_UI_URL="$ui" CUSTOMS_GRPC_ADDRESS="$grpc" CUSTOMS_STARTER="$work/starter" \
    CUSTOMS_SUBMITTED="$artifacts/submitted.tsv" CUSTOMS_ARTIFACTS="$artifacts" CHROMIUM="$chromium" \
    timeout --kill-after=10 240 node --test officer.test.mjs
) || {
  rc=$?
  echo "browser tests failed; screenshots in artifacts/browser/; devserver log tail:"
  tail -n 30 "$artifacts/devserver.log"
  exit "$rc"
}
stop_devserver

# Signing in: a second devserver verifies every caller, and its Web UI signs people in at the
# development identity provider.
read -r grpc_port ui_port auth_port < <(free_ports 3)
grpc="127.0.0.1:$grpc_port"
ui="http://127.0.0.1:$ui_port"
phase "devserver --auth on $grpc, Web UI $ui, identity provider on $auth_port"
"$work/devserver" --auth --data-dir "$work/data-auth" --port "$grpc_port" --ui-port "$ui_port" --auth-port "$auth_port" \
  --health-addr "" --log-level warn >"$artifacts/devserver-auth.log" 2>&1 &
devserver_pid=$!
wait_for_ui "$ui" "$artifacts/devserver-auth.log"
exporter_token=$("$work/token" --data-dir "$work/data-auth" --auth-port "$auth_port" --exporter 3301960412 --subject exporter-3301960412)
"$work/starter" --address "$grpc" --tls=false --api-key "$exporter_token" submit examples/de-antibody-test-kits.json

phase "node --test (e2e/browser, signing in)"
(
  cd e2e/browser
  CUSTOMS_UI_URL="$ui" CUSTOMS_GRPC_ADDRESS="$grpc" CUSTOMS_STARTER="$work/starter" CUSTOMS_EXPORTER_TOKEN="$exporter_token" \
    CUSTOMS_ARTIFACTS="$artifacts" CHROMIUM="$chromium" \
    timeout --kill-after=10 180 node --test signin.test.mjs
) || {
  rc=$?
  echo "sign-in browser tests failed; screenshots in artifacts/browser/; devserver log tail:"
  tail -n 30 "$artifacts/devserver-auth.log"
  exit "$rc"
}
ls "$artifacts"

if [ "${UPDATE_DOC_IMAGES:-}" = 1 ]; then
  mkdir -p docs/img
  for pair in 01-document-check-queue:officers-queue 02-clearance-user-metadata:officers-clearance \
              03-status-query:officers-status-query 04-update-dialog:officers-update-dialog \
              06-event-history:officers-event-history 08-refused-update:officers-refused-update \
              10-overdue-clearance:officers-overdue 12-desk-actions:officers-desk-actions \
              16-amendment-awaiting-consent:officers-amendment 18-archive:officers-archive \
              21-identity-provider:officers-sign-in 23-refused-as-another-officer:officers-signed-in-refusal; do
    cp "$artifacts/${pair%%:*}.png" "docs/img/${pair#*:}.png"
  done
  phase "copied the guide's screenshots to docs/img/"
fi

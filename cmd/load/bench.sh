#!/usr/bin/env bash
# Throughput side by side, in one run on one machine: the bare baseline and green-lane
# clearances (the load command) against the stock development server (temporal server
# start-dev, in memory and on a SQLite file) and against the embedded default (deploy/devserver,
# SQLite file), each freshly started on loopback, and the officers' decision round trip under the
# same load on the embedded default. BENCHMARKS.md quotes its output.
#
#   bash cmd/load/bench.sh                 # N=300 C=200
#   N=1000 C=200 bash cmd/load/bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. cmd/load/lib.sh

N=${N:-300}
C=${C:-200}

build temporal load devserver setup

run_load() { # run_load NAME ADDRESS SERVER-PID
  local name=$1 addr=$2 pid=$3
  echo
  echo "== $name ($addr): $N per round, 2 rounds (baseline, clearances, clearances, baseline), concurrency $C"
  "$work/load" --address "$addr" --namespace default -n "$N" --concurrency "$C" --data-dir "$work/$name-data" \
    --server-pid "$pid" --notifications - 2>/dev/null | tee "$work/$name.txt" || true  # errors are reported in the table
}

machine

port=$(free_port)
temporal server start-dev --headless --ip 127.0.0.1 --port "$port" --log-level error >/dev/null 2>&1 &
pids+=($!)
await "127.0.0.1:$port"
run_load stock-memory "127.0.0.1:$port" "${pids[-1]}"
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

port=$(free_port)
temporal server start-dev --headless --ip 127.0.0.1 --port "$port" --db-filename "$work/stock.db" --log-level error >/dev/null 2>&1 &
pids+=($!)
await "127.0.0.1:$port"
run_load stock "127.0.0.1:$port" "${pids[-1]}"
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

port=$(free_port)
"$work/devserver" --data-dir "$work/embedded" --port "$port" --ui-port "$(free_port)" --no-ui --worker=false --log-level error >/dev/null 2>&1 &
pids+=($!)
await "127.0.0.1:$port"
run_load embedded "127.0.0.1:$port" "${pids[-1]}"
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

port=$(free_port)
"$work/devserver" --data-dir "$work/embedded-normal" --port "$port" --ui-port "$(free_port)" --no-ui --worker=false \
  --sqlite-sync-normal --log-level error >/dev/null 2>&1 &
pids+=($!)
await "127.0.0.1:$port"
run_load embedded-sync-normal "127.0.0.1:$port" "${pids[-1]}"
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# Officers' decisions under the same load: the three green examples and a yellow one, whose
# document check an automatic officer approves (the update "decide", a second after it waits).
port=$(free_port)
"$work/devserver" --data-dir "$work/embedded-officer" --port "$port" --ui-port "$(free_port)" --no-ui --worker=false \
  --log-level error >/dev/null 2>&1 &
pids+=($!)
await "127.0.0.1:$port"
echo
echo "== embedded default, green and yellow lanes (127.0.0.1:$port): $N clearances, concurrency $C, an officer decides the yellow ones"
"$work/load" --address "127.0.0.1:$port" --namespace default -n "$N" --concurrency "$C" --baseline=false \
  --examples examples/us-nasal-cannulas-anaesthesia-masks.json,examples/it-ffp2-respirators.json,examples/nl-examination-gloves-self-declared.json,examples/us-n95-respirators-niosh.json \
  --data-dir "$work/officer-data" --server-pid "${pids[-1]}" --notifications - 2>/dev/null || true

base() { awk '$1 == "baseline" {print $6}' "$work/$1.txt"; }
ratio() { python3 -c "print(round($1/$2, 2))"; }
base_mem=$(base stock-memory); base_stock=$(base stock); base_emb=$(base embedded); base_norm=$(base embedded-sync-normal)
echo
echo "== baseline wf/s: stock in memory $base_mem, stock on a file $base_stock, embedded $base_emb," \
  "embedded with synchronous=NORMAL $base_norm"
echo "== embedded against stock in memory $(ratio "$base_emb" "$base_mem")x (target 1.1), against stock on a file" \
  "$(ratio "$base_emb" "$base_stock")x (target 2.4); synchronous=NORMAL against the file $(ratio "$base_norm" "$base_stock")x"

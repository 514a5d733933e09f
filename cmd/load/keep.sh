#!/usr/bin/env bash
# The throughput ratios BENCHMARKS.md keeps, as a series: the bare baseline and green-lane
# clearances on the stock development server in memory (temporal server start-dev) and on the
# embedded default (deploy/devserver, SQLite file) with task-queue priority and fairness on (its
# default) and off (matching.useNewMatcher and matching.enableFairness false), each freshly
# started on loopback, interleaved ROUNDS times in turned-about order (stock on off, off on stock,
# ...) so that a noisy machine's drift falls on every arm alike. It prints every run, then per
# arm the median baseline and clearances per second, and the ratios of the medians: the embedded
# default against the stock server in memory (target 1.1x) and what priority and fairness cost it.
#
#   bash cmd/load/keep.sh                  # ROUNDS=4 N=300 C=200
#   ROUNDS=2 N=150 bash cmd/load/keep.sh   # shorter
#   ARMS="stock-memory on w4" bash cmd/load/keep.sh
#
# Arms: stock-memory; on (the embedded default); off (priority and fairness off); w4 (the
# embedded default with the server's four write partitions of a task queue instead of one).
set -euo pipefail
cd "$(dirname "$0")/../.."
. cmd/load/lib.sh

ROUNDS=${ROUNDS:-4}
ARMS=${ARMS:-stock-memory on off}
N=${N:-300}
C=${C:-200}

build temporal load devserver setup

machine
echo "== $ROUNDS rounds of: $ARMS (turned about every other round); $N per load round, concurrency $C"

run=0
for round in $(seq 1 "$ROUNDS"); do
  arms=$ARMS
  [ $((round % 2)) -eq 0 ] && arms=$(tr ' ' '\n' <<<"$ARMS" | tac | tr '\n' ' ')
  for arm in $arms; do
    run=$((run + 1))
    port=$(free_port)
    case $arm in
    stock-memory)
      temporal server start-dev --headless --ip 127.0.0.1 --port "$port" --log-level error >/dev/null 2>&1 &
      ;;
    on)
      "$work/devserver" --data-dir "$work/$run-on" --port "$port" --ui-port "$(free_port)" --no-ui --worker=false \
        --log-level error >/dev/null 2>&1 &
      ;;
    off)
      "$work/devserver" --data-dir "$work/$run-off" --port "$port" --ui-port "$(free_port)" --no-ui --worker=false \
        --dynamic-config-value matching.useNewMatcher=false --dynamic-config-value matching.enableFairness=false \
        --log-level error >/dev/null 2>&1 &
      ;;
    w4)
      "$work/devserver" --data-dir "$work/$run-w4" --port "$port" --ui-port "$(free_port)" --no-ui --worker=false \
        --dynamic-config-value matching.numTaskqueueWritePartitions=4 --log-level error >/dev/null 2>&1 &
      ;;
    *)
      echo "unknown arm $arm: stock-memory, on, off or w4" >&2
      exit 2
      ;;
    esac
    pids+=($!)
    await "127.0.0.1:$port"
    "$work/load" --address "127.0.0.1:$port" --namespace default -n "$N" --concurrency "$C" --data-dir "$work/$run-data" \
      --server-pid "${pids[-1]}" --notifications - 2>/dev/null >"$work/$run-$arm.txt" || true # errors are reported in the table
    kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
    rate() { awk -v k="$1" '$1 == k {print $6}' "$work/$run-$arm.txt"; }
    errors=$(awk '$1 == "baseline" || $1 == "clearance" {e += $4} END {print e + 0}' "$work/$run-$arm.txt")
    echo "run $run (round $round): $arm baseline $(rate baseline) wf/s, clearances $(rate clearance) wf/s, errors $errors"
    echo "$arm $(rate baseline) $(rate clearance) $errors" >>"$work/series"
  done
done

python3 - "$work/series" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    arm, base, clr, errors = line.split()
    runs.setdefault(arm, []).append((float(base or 0), float(clr or 0), int(errors)))
med = {arm: (statistics.median(b for b, _, _ in xs), statistics.median(c for _, c, _ in xs)) for arm, xs in runs.items()}
print("\n| arm | runs | baseline wf/s, median (min-max) | clearances wf/s, median (min-max) | clearances / baseline | errors |")
print("|---|---|---|---|---|---|")
for arm in ("stock-memory", "on", "off", "w4"):
    xs = runs.get(arm, [])
    if not xs:
        continue
    b, c = med[arm]
    bs, cs = [x[0] for x in xs], [x[1] for x in xs]
    print(f"| {arm} | {len(xs)} | {b:.1f} ({min(bs):.1f}-{max(bs):.1f}) | {c:.1f} ({min(cs):.1f}-{max(cs):.1f}) | {c / b if b else 0:.2f} | {sum(x[2] for x in xs)} |")
if all(a in med for a in ("stock-memory", "on", "off")):
    print(f"\nembedded (priority and fairness on) against stock in memory, baseline: {med['on'][0] / med['stock-memory'][0]:.2f}x (target 1.1); "
          f"with them off: {med['off'][0] / med['stock-memory'][0]:.2f}x")
    print(f"priority and fairness on against off on the embedded default: baseline {med['on'][0] / med['off'][0]:.2f}, "
          f"clearances {med['on'][1] / med['off'][1]:.2f}")
if all(a in med for a in ("stock-memory", "on", "w4")):
    print(f"embedded with four write partitions against stock in memory, baseline: {med['w4'][0] / med['stock-memory'][0]:.2f}x; "
          f"one (the default) against four: baseline {med['on'][0] / med['w4'][0]:.2f}, clearances {med['on'][1] / med['w4'][1]:.2f}")
EOF

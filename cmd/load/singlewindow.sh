#!/usr/bin/env bash
# What the single window's Nexus hop costs a clearance, side by side in one run on one machine:
# N green-lane clearances of examples/it-ffp2-respirators.json, whose line needs SAMR's permit,
# without the agency step (customs' built-in policy asks no agency) and with it (load
# --single-window SAMR: the clearance asks SAMR's permit through its Nexus endpoint, SAMR grants it
# by rule, then the clearance releases). Each run starts a fresh embedded default (deploy/devserver,
# SQLite file, no worker of its own; it sets up the agencies' namespaces and endpoints), and load
# runs customs' clearance worker and, with the agency step, SAMR's worker in its own process, in the
# order without, with, with, without so that drift weighs on both alike. It prints throughput,
# processor time per clearance (the load process, which holds the workers, and the server process,
# from /proc), lodgement to release and the agency round trip (the permit record's asked to
# answered), and the ratios with / without. BENCHMARKS.md quotes its output.
#
#   bash cmd/load/singlewindow.sh                             # N=500 C=100, without with with without
#   ORDER="without with" N=30 C=10 bash cmd/load/singlewindow.sh  # shorter
set -euo pipefail
cd "$(dirname "$0")/../.."
. cmd/load/lib.sh

N=${N:-500}
C=${C:-100}
ORDER=${ORDER:-without with with without}
EXAMPLE=examples/it-ffp2-respirators.json

for mode in $ORDER; do
  case $mode in without | with) ;; *) echo "ORDER: $mode: want without or with" >&2; exit 2 ;; esac
done

build load devserver

# ready waits until the devserver has printed its banner, which it does once the server answers
# and the agencies are set up.
ready() { # ready PID STDOUT-FILE
  for _ in $(seq 1 900); do
    grep -q "Customs clearance engine is running" "$2" 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

machine
echo "== $N green-lane clearances of $EXAMPLE per run, $C in flight; order: $ORDER"

i=0
for mode in $ORDER; do
  i=$((i + 1))
  run="$i-$mode"
  flags=()
  if [ "$mode" = with ]; then flags=(--single-window SAMR); fi
  port=$(free_port)
  "$work/devserver" --data-dir "$work/$run" --port "$port" --ui-port "$(free_port)" --no-ui --worker=false \
    --log-level error >"$work/$run-server.out" 2>"$work/$run-server.log" &
  pids+=($!)
  ready "${pids[-1]}" "$work/$run-server.out" || { echo "run $i: the devserver did not start"; cat "$work/$run-server.log"; exit 1; }
  echo "== run $i: agency step $mode: load --address 127.0.0.1:$port${flags[*]:+ ${flags[*]}}"
  # load fails when a clearance failed; its JSON still says how many, and the table shows them.
  "$work/load" --address "127.0.0.1:$port" --namespace default -n "$N" --concurrency "$C" --baseline=false \
    --examples "$EXAMPLE" --data-dir "$work/$run-load" --notifications - --server-pid "${pids[-1]}" "${flags[@]}" \
    --json >"$work/$run.json" 2>"$work/$run.log" || [ -s "$work/$run.json" ] || { cat "$work/$run.log"; exit 1; }
  kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
done

python3 - "$work" $ORDER <<'EOF'
import json, sys
work, order = sys.argv[1], sys.argv[2:]
ms = lambda ns: f"{ns / 1e6:.1f}"
sec = lambda ns: f"{ns / 1e9:.2f}"
runs, bad = [], []
for i, mode in enumerate(order, 1):
    r = json.load(open(f"{work}/{i}-{mode}.json"))["results"][0]
    done = r["Completed"]
    permits = (r.get("Permits") or {}).get("SAMR", 0)
    if mode == "with" and permits != done:
        bad.append(f"run {i}: {permits} of {done} clearances hold a granted SAMR permit, want all")
    if mode == "without" and (r.get("Permits") or r["AgencyRoundTrip"]["Max"]):
        bad.append(f"run {i}: permits {r.get('Permits')} without the agency step, want none")
    if r["Errors"]:
        bad.append(f"run {i}: {r['Errors']} clearances failed; first: {r['FirstError']}")
    runs.append((i, mode, r))

print("\n== each run: clearances per second of wall time; processor time per clearance (ms); lodgement to release (s);"
      " agency round trip, from the clearance asking SAMR to the answer reaching it (ms)")
print("| run | agency step | released | errors | clearances/s | processor, load process | processor, server | processor, both"
      " | lodgement to release p50 / p99 | agency round trip p50 / p99 | granted SAMR permits |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for i, mode, r in runs:
    n = max(1, r["Completed"])
    rt = r["AgencyRoundTrip"]
    agency = f"{ms(rt['P50'])} / {ms(rt['P99'])}" if rt["Max"] else "-"
    print(f"| {i} | {mode} | {r['Completed']} | {r['Errors']} | {r['PerSecond']:.1f} | {ms(r['LoadCPU'] / n)} | {ms(r['ServerCPU'] / n)}"
          f" | {ms((r['LoadCPU'] + r['ServerCPU']) / n)} | {sec(r['EndToEnd']['P50'])} / {sec(r['EndToEnd']['P99'])} | {agency}"
          f" | {(r.get('Permits') or {}).get('SAMR', 0)} |")

# Over the runs of each kind: rates and processor time over all their clearances, latencies the
# mean of the runs' percentiles.
agg = {}
for _, mode, r in runs:
    a = agg.setdefault(mode, {"done": 0, "wall": 0, "load": 0, "server": 0, "lat": []})
    a["done"] += r["Completed"]; a["wall"] += r["Wall"]; a["load"] += r["LoadCPU"]; a["server"] += r["ServerCPU"]
    a["lat"].append((r["EndToEnd"]["P50"], r["EndToEnd"]["P99"], r["AgencyRoundTrip"]["P50"], r["AgencyRoundTrip"]["P99"]))
fig = {}
for mode, a in agg.items():
    n = max(1, a["done"])
    mean = [sum(x) / len(a["lat"]) for x in zip(*a["lat"])]
    fig[mode] = [a["done"] / (a["wall"] / 1e9) if a["wall"] else 0, a["load"] / n, a["server"] / n, (a["load"] + a["server"]) / n] + mean
print("\n== over the runs of each: clearances/s and processor time over all their clearances, latencies the mean of the runs' percentiles")
print("| agency step | runs | clearances/s | processor, load process | processor, server | processor, both"
      " | lodgement to release p50 / p99 | agency round trip p50 / p99 |")
print("|---|---|---|---|---|---|---|---|")
for mode in ("without", "with"):
    if mode in fig:
        f = fig[mode]
        agency = f"{ms(f[6])} / {ms(f[7])} ms" if f[7] else "-"
        print(f"| {mode} | {len(agg[mode]['lat'])} | {f[0]:.1f} | {ms(f[1])} ms | {ms(f[2])} ms | {ms(f[3])} ms"
              f" | {sec(f[4])} / {sec(f[5])} s | {agency} |")
if "with" in fig and "without" in fig:
    w, wo = fig["with"], fig["without"]
    q = lambda k: f"{w[k] / wo[k]:.2f}" if wo[k] else "-"
    print(f"| with / without | | {q(0)} | {q(1)} | {q(2)} | {q(3)} | {q(4)} / {q(5)} | |")
    print(f"\nthe agency step adds {ms(w[3] - wo[3])} ms of processor per clearance (load process {ms(w[1] - wo[1])} ms,"
          f" server {ms(w[2] - wo[2])} ms) and {sec(w[4] - wo[4])} s to the median lodgement to release")
for b in bad:
    print("!! " + b)
sys.exit(1 if bad else 0)
EOF

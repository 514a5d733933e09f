# Shell helpers the load scripts share (bench.sh, keep.sh, priority.sh, singlewindow.sh): a work
# directory removed on exit with every server started, the binaries they run, free loopback
# ports, a wait for a server's frontend, and the machine's line. Sourced from the repository's
# root, not run.

export PATH="/usr/local/go/bin:$(go env GOPATH)/bin:$PATH"
work=$(mktemp -d)
# pids are the processes a script starts; each is stopped on exit.
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# free_port prints a free port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# await ADDRESS waits until the server there answers setup for namespace default ($work/setup).
await() { for _ in $(seq 1 600); do "$work/setup" --address "$1" --namespace default --wait 1m >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
# machine prints the machine's line every script's output begins with.
machine() { echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(go version | cut -d' ' -f3), $(date -u +%F)"; }
# build BINARY... builds the binaries the script runs into $work (load, devserver, setup), and
# installs the stock Temporal CLI when one is asked for (temporal) and missing.
build() {
  for b in "$@"; do
    case $b in
      load) go build -o "$work/load" ./cmd/load ;;
      devserver) go build -o "$work/devserver" ./deploy/devserver ;;
      setup) go build -o "$work/setup" ./cmd/setup ;;
      temporal)
        if ! command -v temporal >/dev/null; then
          echo "== installing the stock Temporal CLI v1.5.1 (a few minutes)"
          go install github.com/temporalio/cli/cmd/temporal@v1.5.1
        fi ;;
      *) echo "build: $b: not a binary the load scripts run" >&2; return 2 ;;
    esac
  done
}

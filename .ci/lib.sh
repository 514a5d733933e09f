# Shell helpers the CI scripts share: free loopback ports and bounded waits. Sourced, not run.

# port_free PORT succeeds when nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# free_ports FIRST COUNT prints the first port from FIRST on of COUNT free consecutive ports.
free_ports() {
  local p=$1 n=$2 i
  while :; do
    for ((i = 0; i < n; i++)); do port_free $((p + i)) || break; done
    if [ "$i" -eq "$n" ]; then echo "$p"; return; fi
    p=$((p + n))
  done
}
wait_for() { # wait_for SECONDS WHAT COMMAND...
  local limit=$1 what=$2
  shift 2
  for _ in $(seq 1 $((limit * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "timed out after ${limit}s waiting for $what" >&2
  return 1
}

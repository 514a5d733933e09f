#!/usr/bin/env bash
# staticcheck and errcheck, as samples-go's ci-build runs them, pinned. errcheck leaves out what a
# command writes to its own output (fmt.Fprint* and a tabwriter's Flush): a failed write to a
# terminal or pipe has nowhere to be reported.
set -euo pipefail
cd "$(dirname "$0")/.."

ERRCHECK_VERSION=v1.30.0

echo "== staticcheck (honnef.co/go/tools v0.8.2)"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
echo "staticcheck: clean"

exclude=$(mktemp)
trap 'rm -f "$exclude"' EXIT
cat >"$exclude" <<'LIST'
fmt.Fprint
fmt.Fprintf
fmt.Fprintln
(*text/tabwriter.Writer).Flush
LIST
echo "== errcheck ${ERRCHECK_VERSION}"
go run "github.com/kisielk/errcheck@${ERRCHECK_VERSION}" -exclude "$exclude" ./...
echo "errcheck: clean"

#!/usr/bin/env bash
# Determinism check of the workflow code with the Temporal SDK's workflowcheck: every function
# reachable from a workflow (ExportClearance, ClearanceAppeal and AgencyReview, and the variants in the tests)
# must be free of time.Now, goroutines, channels, map iteration and other non-determinism.
#
# One override, passed as its config: runtime.gcStart. Under Go 1.26 every allocation reaches
# runtime.mallocgc -> runtime.gcStart -> runtime.gcBgMarkStartWorkers, which starts the garbage
# collector's goroutines, so without it workflowcheck flags every fmt.Sprintf and json.Decode in
# the workflow. The garbage collector is not workflow code; nothing else is overridden.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKFLOWCHECK_VERSION=v0.6.0

config=$(mktemp)
trap 'rm -f "$config"' EXIT
cat >"$config" <<'YAML'
decls:
  runtime.gcStart: false
YAML

echo "== workflowcheck ${WORKFLOWCHECK_VERSION} ./workflows/... ./appeal/... ./agency/..."
go run "go.temporal.io/sdk/contrib/tools/workflowcheck@${WORKFLOWCHECK_VERSION}" -config "$config" ./workflows/... ./appeal/... ./agency/...
echo "workflowcheck: no non-determinism found"

#!/usr/bin/env bash
# What the browser tests (e2e/browser/) need: Debian's Chromium (installed when missing, unless
# CHROMIUM names another), Node.js 20 or later, and the tests' npm packages (playwright-core,
# without its browser download). Run by .ci/browser.sh and .ci/postgres.sh; quick once done.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ -z "${CHROMIUM:-}" ] && ! [ -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
[ -x "$chromium" ] || { echo "no browser at $chromium"; exit 1; }
"$chromium" --version 2>/dev/null | head -1

node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  { echo "e2e/browser needs Node.js 20 or later, found $(node --version)"; exit 1; }

(cd e2e/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

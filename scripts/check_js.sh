#!/usr/bin/env bash
# The JavaScript checks: ESLint, Prettier and the node unit tests of the browser's pure modules.
# Installs the pinned dev tools (package-lock.json) first when node_modules is missing or older
# than the lock file.  Exits non-zero if any check fails; runs them all either way.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "check_js: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  echo "check_js: installing the JavaScript dev tools (npm ci)"
  npm ci --no-audit --no-fund --silent || { echo "check_js: npm ci failed" >&2; exit 1; }
  touch node_modules
fi

status=0
echo "check_js: eslint"
npx --no-install eslint static/js tests/js || status=1
echo "check_js: prettier"
npx --no-install prettier --check --log-level warn static/js tests/js static/css || status=1
echo "check_js: node --test"
node --test tests/js/ || status=1

[ "$status" -ne 0 ] && echo "check_js: FAILED (see above)" >&2
exit "$status"

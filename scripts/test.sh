#!/usr/bin/env bash
# The whole test gate: types, lint, every test (unit, infra, end-to-end, reliability), then an
# offline `cdk synth` with cdk-nag. Prints one closing line "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."

step() { echo; echo "== $*"; }
status=0

step "types (tsc --noEmit)"
npx tsc --noEmit -p tsconfig.json || status=1

step "lint and format (biome)"
npx biome check . || status=1

step "tests (vitest)"
results=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile="$results" || status=1

step "cdk synth (offline, cdk-nag on)"
npx cdk synth --quiet >/dev/null || status=1

node scripts/test-summary.mjs "$results" || status=1
rm -f "$results"
exit $status

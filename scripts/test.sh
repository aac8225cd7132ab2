#!/usr/bin/env bash
# The whole test gate: types, lint, every Vitest project (unit, infra, integration, reliability),
# then an offline `cdk synth` with cdk-nag. Prints one closing line "N passed, N failed[, N skipped]".
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
# A deployment needs a Vonage signature secret: an example ARN stands in for the user's (the
# secret is only referenced by the template, never read at synth).
AWS_REGION=us-east-1 npx cdk synth --quiet \
  -c signatureSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:vonage-signature-AbCdEf \
  >/dev/null || status=1

node scripts/test-summary.mjs "$results" || status=1
rm -f "$results"
exit $status

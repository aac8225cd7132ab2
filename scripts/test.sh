#!/usr/bin/env bash
# The whole test gate: types, lint, every Vitest project (unit, infra, integration, reliability),
# the S3 integration tests again against Ceph RGW when it runs (RGW_ENDPOINT; .ci/run starts it),
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

reports=("$results")
if [[ -n "${RGW_ENDPOINT:-}" ]]; then
  # The integration tests that talk to S3, again against a real S3 implementation (Ceph RGW,
  # `bash scripts/rgw.sh start`): a fresh bucket per test server instead of s3rver.
  step "S3 integration tests against Ceph RGW ($RGW_ENDPOINT)"
  rgw_results=$(mktemp)
  mapfile -t s3_tests < <(grep -rl --include='*.test.ts' 'startLocalS3' test fargate/test | grep -v -e '^test/reliability/' -e '^test/infra/' | sort)
  S3_TEST_SERVER=rgw npx vitest run --project integration --reporter=default --reporter=json \
    --outputFile="$rgw_results" "${s3_tests[@]}" || status=1
  reports+=("$rgw_results")
fi

step "cdk synth (offline, cdk-nag on)"
# A deployment needs a Vonage signature secret: an example ARN stands in for the user's (the
# secret is only referenced by the template, never read at synth).
AWS_REGION=us-east-1 npx cdk synth --quiet \
  -c signatureSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:vonage-signature-AbCdEf \
  >/dev/null || status=1

node scripts/test-summary.mjs "${reports[@]}" || status=1
rm -f "${reports[@]}"
exit $status

#!/usr/bin/env bash
# AWS CLI smoke test against a running Coffer: create, read, put, list, describe, tag,
# delete and restore a secret, asserting every answer.
#
# Usage: tests/cli/smoke.sh [ENDPOINT]
#   ENDPOINT defaults to $COFFER_ENDPOINT, then http://127.0.0.1:4584.
#   Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment, else
#   COFFER_ROOT_ACCESS_KEY_ID / COFFER_ROOT_SECRET_ACCESS_KEY, else $COFFER_DATA_DIR/credentials
#   (the file Coffer generates). AWS_CLI selects the aws binary (default: .venv/bin/aws, then
#   aws on PATH).
set -euo pipefail

ENDPOINT="${1:-${COFFER_ENDPOINT:-http://127.0.0.1:4584}}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -z "${AWS_CLI:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/aws" ]]; then AWS_CLI="$ROOT/.venv/bin/aws"; else AWS_CLI="aws"; fi
fi

if [[ -z "${AWS_ACCESS_KEY_ID:-}" ]]; then
  if [[ -n "${COFFER_ROOT_ACCESS_KEY_ID:-}" ]]; then
    export AWS_ACCESS_KEY_ID="$COFFER_ROOT_ACCESS_KEY_ID"
    export AWS_SECRET_ACCESS_KEY="$COFFER_ROOT_SECRET_ACCESS_KEY"
  elif [[ -n "${COFFER_DATA_DIR:-}" && -f "$COFFER_DATA_DIR/credentials" ]]; then
    export AWS_SHARED_CREDENTIALS_FILE="$COFFER_DATA_DIR/credentials"
  else
    echo "FAIL: no credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or COFFER_DATA_DIR)" >&2
    exit 1
  fi
fi
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_PAGER=""
# Keep the CLI away from any user configuration on the machine.
export AWS_CONFIG_FILE=/dev/null

NAME="cli-smoke/$(date +%s)-$RANDOM"
PASS=0

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

sm() {
  "$AWS_CLI" --endpoint-url "$ENDPOINT" --output json secretsmanager "$@"
}

# check DESCRIPTION JSON JQ_EXPR: the jq expression must evaluate to true.
check() {
  local what="$1" json="$2" expr="$3"
  if ! jq -e "$expr" >/dev/null <<<"$json"; then
    echo "--- response ---" >&2
    echo "$json" >&2
    fail "$what: expected $expr"
  fi
  PASS=$((PASS + 1))
  echo "ok - $what"
}

# expect_error DESCRIPTION CODE -- aws args...: the call must fail with this error code.
expect_error() {
  local what="$1" code="$2"
  shift 3
  local out
  if out="$(sm "$@" 2>&1)"; then
    echo "$out" >&2
    fail "$what: expected $code, the call succeeded"
  fi
  if ! grep -q "($code)" <<<"$out"; then
    echo "$out" >&2
    fail "$what: expected $code"
  fi
  PASS=$((PASS + 1))
  echo "ok - $what"
}

echo "# AWS CLI smoke test against $ENDPOINT ($("$AWS_CLI" --version 2>&1))"

out="$(sm create-secret --name "$NAME" --description "smoke test" --secret-string '{"user":"alice","password":"p1"}')"
check "create-secret returns the ARN and a version" "$out" \
  ".Name == \"$NAME\" and (.ARN | test(\"^arn:aws:secretsmanager:$AWS_DEFAULT_REGION:[0-9]{12}:secret:\")) and (.ARN | test(\"-[A-Za-z0-9]{6}$\")) and (.VersionId | length >= 32)"
ARN="$(jq -r .ARN <<<"$out")"
V1="$(jq -r .VersionId <<<"$out")"

out="$(sm get-secret-value --secret-id "$NAME")"
check "get-secret-value reads the value" "$out" \
  ".SecretString == \"{\\\"user\\\":\\\"alice\\\",\\\"password\\\":\\\"p1\\\"}\" and .VersionId == \"$V1\" and .VersionStages == [\"AWSCURRENT\"]"

out="$(sm put-secret-value --secret-id "$ARN" --secret-string "second")"
check "put-secret-value creates a current version" "$out" \
  ".VersionStages == [\"AWSCURRENT\"] and .VersionId != \"$V1\""
V2="$(jq -r .VersionId <<<"$out")"

out="$(sm get-secret-value --secret-id "$NAME")"
check "get-secret-value returns the new value" "$out" ".SecretString == \"second\" and .VersionId == \"$V2\""
out="$(sm get-secret-value --secret-id "$NAME" --version-stage AWSPREVIOUS)"
check "AWSPREVIOUS follows AWSCURRENT" "$out" ".VersionId == \"$V1\""

out="$(sm list-secrets --filters Key=name,Values="$NAME")"
check "list-secrets finds it by name" "$out" \
  "[.SecretList[] | select(.Name == \"$NAME\")] | length == 1"

out="$(sm list-secret-version-ids --secret-id "$NAME")"
check "list-secret-version-ids shows both labelled versions" "$out" \
  "(.Versions | length) == 2"

out="$(sm describe-secret --secret-id "$NAME")"
check "describe-secret shows metadata and labels" "$out" \
  ".Name == \"$NAME\" and .ARN == \"$ARN\" and .Description == \"smoke test\" and .VersionIdsToStages[\"$V2\"] == [\"AWSCURRENT\"] and .VersionIdsToStages[\"$V1\"] == [\"AWSPREVIOUS\"] and (has(\"DeletedDate\") | not)"

sm tag-resource --secret-id "$NAME" --tags Key=team,Value=platform Key=env,Value=dev >/dev/null
out="$(sm describe-secret --secret-id "$NAME")"
check "tag-resource adds tags" "$out" \
  "(.Tags | map({(.Key): .Value}) | add) == {\"team\":\"platform\",\"env\":\"dev\"}"
sm untag-resource --secret-id "$NAME" --tag-keys env >/dev/null
out="$(sm describe-secret --secret-id "$NAME")"
check "untag-resource removes a tag" "$out" \
  "(.Tags | map(.Key)) == [\"team\"]"

out="$(sm delete-secret --secret-id "$NAME" --recovery-window-in-days 7)"
check "delete-secret schedules deletion" "$out" ".Name == \"$NAME\" and (.DeletionDate != null)"
expect_error "get-secret-value of a deleted secret is refused" InvalidRequestException -- \
  get-secret-value --secret-id "$NAME"
out="$(sm describe-secret --secret-id "$NAME")"
check "describe-secret shows DeletedDate" "$out" "has(\"DeletedDate\")"
out="$(sm list-secrets --filters Key=name,Values="$NAME")"
check "list-secrets hides the deleted secret" "$out" \
  "[.SecretList[] | select(.Name == \"$NAME\")] | length == 0"

out="$(sm restore-secret --secret-id "$NAME")"
check "restore-secret answers with the ARN" "$out" ".ARN == \"$ARN\""
out="$(sm get-secret-value --secret-id "$NAME")"
check "the restored secret is readable" "$out" ".SecretString == \"second\""

out="$(sm get-random-password)"
check "get-random-password returns 32 characters" "$out" "(.RandomPassword | length) == 32"

sm delete-secret --secret-id "$NAME" --force-delete-without-recovery >/dev/null
echo "smoke: $PASS passed, 0 failed"

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

# `coffer admin` (the admin API's CLI): COFFER_BIN, else target/debug/coffer, else coffer on PATH.
COFFER_BIN="${COFFER_BIN:-$ROOT/target/debug/coffer}"
[[ -x "$COFFER_BIN" ]] || COFFER_BIN="$(command -v coffer || true)"
if [[ -z "$COFFER_BIN" ]]; then
  echo "# no coffer binary: skipping the coffer admin checks"
else
  admin() { "$COFFER_BIN" admin "$@" --endpoint-url "$ENDPOINT"; }
  USER_NAME="smoke-$(date +%s)-$RANDOM"
  ADMIN_SECRET="$NAME-admin"
  ADMIN_ARN="$(sm create-secret --name "$ADMIN_SECRET" --secret-string admin-value | jq -r .ARN)"

  out="$(admin create-user --user-name "$USER_NAME" --tags Key=team,Value=smoke)"
  check "coffer admin create-user creates the user with its tags" "$out" \
    ".User.UserName == \"$USER_NAME\" and (.User.Arn | endswith(\":user/$USER_NAME\")) and .User.Tags == [{\"Key\":\"team\",\"Value\":\"smoke\"}]"
  out="$(admin list-users)"
  check "coffer admin list-users lists it" "$out" \
    "[.Users[] | select(.UserName == \"$USER_NAME\")] | length == 1"
  out="$(admin create-access-key --user-name "$USER_NAME")"
  check "coffer admin create-access-key returns a key pair" "$out" \
    ".AccessKey.UserName == \"$USER_NAME\" and .AccessKey.Status == \"Active\" and (.AccessKey.SecretAccessKey | length > 0)"
  KEY_ID="$(jq -r .AccessKey.AccessKeyId <<<"$out")"
  KEY_SECRET="$(jq -r .AccessKey.SecretAccessKey <<<"$out")"
  as_user() {
    AWS_ACCESS_KEY_ID="$KEY_ID" AWS_SECRET_ACCESS_KEY="$KEY_SECRET" AWS_SESSION_TOKEN="" sm "$@"
  }

  if out="$(as_user get-secret-value --secret-id "$ADMIN_ARN" 2>&1)" || ! grep -q "(AccessDeniedException)" <<<"$out"; then
    echo "$out" >&2
    fail "the new key without a policy: expected AccessDeniedException"
  fi
  PASS=$((PASS + 1))
  echo "ok - the new key is refused before put-user-policy"

  POLICY_FILE="$(mktemp)"
  printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"%s"}]}' \
    "$ADMIN_ARN" >"$POLICY_FILE"
  admin put-user-policy --user-name "$USER_NAME" --policy-name read \
    --policy-document "file://$POLICY_FILE" >/dev/null
  rm -f "$POLICY_FILE"
  out="$(as_user get-secret-value --secret-id "$ADMIN_ARN")"
  check "after put-user-policy the new key reads the secret with the AWS CLI" "$out" \
    ".SecretString == \"admin-value\""

  if out="$("$COFFER_BIN" admin no-such-operation --endpoint-url "$ENDPOINT" 2>&1)"; then
    echo "$out" >&2
    fail "coffer admin with an unknown operation succeeded"
  fi
  grep -q "create-access-key" <<<"$out" || { echo "$out" >&2; fail "unknown operation: the valid ones are not listed"; }
  PASS=$((PASS + 1))
  echo "ok - coffer admin refuses an unknown operation, listing the valid ones"

  # An error answer: exit status 255 and the AWS CLI's line, as the AWS CLI itself prints one.
  status=0
  err="$(admin create-user --user-name "$USER_NAME" 2>&1 >/dev/null)" || status=$?
  aws_status=0
  aws_err="$(sm describe-secret --secret-id "$NAME-missing" 2>&1 >/dev/null)" || aws_status=$?
  shape='^An error occurred \([A-Za-z]+\) when calling the [A-Za-z]+ operation: .+'
  if [[ $status != 255 || $aws_status != 255 ]] \
    || ! grep -Eq "^An error occurred \(ResourceExistsException\) when calling the CreateUser operation: .+" <<<"$err" \
    || ! grep -Eq "$shape" <<<"$aws_err"; then
    echo "coffer admin ($status): $err" >&2
    echo "aws ($aws_status): $aws_err" >&2
    fail "coffer admin error: expected exit 255 and the AWS CLI's error line"
  fi
  PASS=$((PASS + 1))
  echo "ok - coffer admin reports an AWS error like the AWS CLI (exit 255)"

  admin delete-user-policy --user-name "$USER_NAME" --policy-name read >/dev/null
  admin delete-access-key --user-name "$USER_NAME" --access-key-id "$KEY_ID" >/dev/null
  admin delete-user --user-name "$USER_NAME" >/dev/null
  out="$(admin list-users)"
  check "coffer admin delete-user removes the user" "$out" \
    "[.Users[] | select(.UserName == \"$USER_NAME\")] | length == 0"
  sm delete-secret --secret-id "$ADMIN_ARN" --force-delete-without-recovery >/dev/null
fi
echo "smoke: $PASS passed, 0 failed"

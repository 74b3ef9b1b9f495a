#!/usr/bin/env bash
# Runs the end-to-end suite (crate coffer-e2e, the same tests CI runs against a local coffer)
# against the stack deploy.sh put on LocalStack, or any deployed Coffer:
#   bash localstack/e2e.sh [extra cargo test args]
# The suite reads COFFER_E2E_ENDPOINT and COFFER_E2E_ACCESS_KEY_ID / COFFER_E2E_SECRET_ACCESS_KEY
# (taken from localstack/.deployed.env unless already set).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "${COFFER_E2E_ENDPOINT:-}" ]]; then
  [[ -f "$ROOT/localstack/.deployed.env" ]] || { echo "run localstack/deploy.sh first (or set COFFER_E2E_ENDPOINT)" >&2; exit 1; }
  set -a
  # shellcheck disable=SC1091
  . "$ROOT/localstack/.deployed.env"
  set +a
fi
: "${COFFER_E2E_ACCESS_KEY_ID:?}" "${COFFER_E2E_SECRET_ACCESS_KEY:?}"
export COFFER_E2E_ENDPOINT COFFER_E2E_ACCESS_KEY_ID COFFER_E2E_SECRET_ACCESS_KEY
echo "end-to-end suite against $COFFER_E2E_ENDPOINT"
cd "$ROOT"
cargo test -p coffer-e2e "$@"

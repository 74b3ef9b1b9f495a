#!/usr/bin/env bash
# Coffer benchmark (not a test): replays one SigV4-signed request with wrk.
#
#   bash bench/bench.sh            # GetSecretValue at 1, 8, 32 connections, then PutSecretValue
#
# Steps: build the release binary, start it on a free 127.0.0.1 port with a temporary data
# directory, create a secret, sign a GetSecretValue request with botocore (valid for the
# server's 5-minute clock-skew window), replay it with wrk for DURATION at each connection
# count, then do the same with a PutSecretValue. Prints a markdown table on stdout (progress
# goes to stderr). wrk and the server share the machine's cores: compare ratios measured in
# one run rather than absolute figures.
#
# Environment: DURATION (default 10s), CONNECTIONS (default "1 8 32"), SKIP_BUILD=1 to reuse
# target/release/coffer, COFFER_BIN to benchmark another binary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-1 8 32}"
REGION=us-east-1

log() { echo "bench: $*" >&2; }
die() {
  echo "bench: FAIL: $*" >&2
  exit 1
}

SUDO=""
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then SUDO="sudo"; fi
need_apt() {
  if ! command -v "$1" >/dev/null; then
    log "installing $2"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$2" >/dev/null
  fi
}
need_apt wrk wrk
need_apt jq jq
need_apt curl curl

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import botocore" 2>/dev/null; then
  log "installing tests/requirements.txt into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
fi

if [[ -n "${COFFER_BIN:-}" ]]; then
  BIN="$COFFER_BIN"
else
  if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "cargo build --release -p coffer"
    cargo build --release -p coffer >&2
  fi
  BIN="$ROOT/target/release/coffer"
fi
[[ -x "$BIN" ]] || die "no coffer binary at $BIN"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ENDPOINT="http://127.0.0.1:$PORT"
export AWS_ACCESS_KEY_ID="AKIACOFFERBENCH00001"
AWS_SECRET_ACCESS_KEY="bench-$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
export AWS_SECRET_ACCESS_KEY
COFFER_ROOT_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" COFFER_ROOT_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
  RUST_LOG="${RUST_LOG:-warn}" \
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/coffer.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "$ENDPOINT/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/coffer.log" >&2; die "coffer exited"; }
  sleep 0.1
done
curl -fsS "$ENDPOINT/health" >/dev/null || die "coffer did not become healthy"
log "coffer $BIN on $ENDPOINT"

sign() { # operation body out [--send]
  .venv/bin/python bench/sign_request.py --endpoint "$ENDPOINT" --region "$REGION" \
    --operation "$1" --body "$2" --out "$3" "${@:4}"
}

SECRET="bench-$(date +%s)"
created="$(sign CreateSecret "{\"Name\":\"$SECRET\",\"SecretString\":\"benchmark-value-0123456789\",\"ClientRequestToken\":\"$(.venv/bin/python -c 'import uuid; print(uuid.uuid4())')\"}" "$WORK/create.lua" --send)"
[[ "$(jq -r .status <<<"$created")" == 200 ]] || die "CreateSecret failed: $created"

# Converts a wrk latency figure (e.g. 812.00us, 1.21ms, 2.01s) to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
    printf "%.3f", n }'
}

ROWS=()
run_wrk() { # label lua connections
  local label="$1" lua="$2" c="$3" threads out rps p50 p99 non2xx
  threads=$((c < 2 ? c : 2))
  out="$(wrk -t "$threads" -c "$c" -d "$DURATION" --latency -s "$lua" "$ENDPOINT/")"
  echo "$out" >&2
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
  p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"
  if [[ -n "$non2xx" && "$non2xx" != 0 ]]; then
    log "WARNING: $label at $c connections: $non2xx non-2xx responses"
  fi
  ROWS+=("| $label | $c | $rps | $p50 | $p99 | ${non2xx:-0} |")
}

# --- GetSecretValue -------------------------------------------------------------------------
sign GetSecretValue "{\"SecretId\":\"$SECRET\"}" "$WORK/get.lua" >/dev/null
check="$(sign GetSecretValue "{\"SecretId\":\"$SECRET\"}" "$WORK/get-check.lua" --send)"
[[ "$(jq -r .status <<<"$check")" == 200 ]] || die "signed GetSecretValue refused: $check"
for c in $CONNECTIONS; do
  log "GetSecretValue, $c connections, $DURATION"
  run_wrk GetSecretValue "$WORK/get.lua" "$c"
done

# --- PutSecretValue -------------------------------------------------------------------------
# AWS SDKs always fill ClientRequestToken; a raw request may omit it. Replaying one signed
# request only measures real writes if the server then generates a fresh version id per
# request; with a fixed token every replay after the first is an idempotent no-op. Probe
# which one this server does and label the row accordingly.
PUT_BODY="{\"SecretId\":\"$SECRET\",\"SecretString\":\"benchmark-put-value\"}"
first="$(sign PutSecretValue "$PUT_BODY" "$WORK/put.lua" --send)"
second="$(sign PutSecretValue "$PUT_BODY" "$WORK/put.lua" --send)"
PUT_LABEL="PutSecretValue (new version per request)"
if [[ "$(jq -r .status <<<"$first")" == 200 && "$(jq -r .status <<<"$second")" == 200 ]]; then
  v1="$(jq -r '.body | fromjson | .VersionId' <<<"$first")"
  v2="$(jq -r '.body | fromjson | .VersionId' <<<"$second")"
  if [[ "$v1" == "$v2" ]]; then
    die "PutSecretValue without a token returned the same VersionId twice ($v1)"
  fi
  log "server generates ClientRequestToken when absent: $v1, $v2"
else
  log "server refuses PutSecretValue without ClientRequestToken: $(jq -c . <<<"$second")"
  log "falling back to a fixed token: this measures the idempotent replay path, not writes"
  PUT_BODY="{\"SecretId\":\"$SECRET\",\"SecretString\":\"benchmark-put-value\",\"ClientRequestToken\":\"$(.venv/bin/python -c 'import uuid; print(uuid.uuid4())')\"}"
  PUT_LABEL="PutSecretValue (fixed token: idempotent replays)"
fi
sign PutSecretValue "$PUT_BODY" "$WORK/put.lua" >/dev/null
for c in $CONNECTIONS; do
  log "PutSecretValue, $c connections, $DURATION"
  run_wrk "$PUT_LABEL" "$WORK/put.lua" "$c"
done

kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || log "coffer exited with status $?"
SERVER_PID=""

echo "## Coffer benchmark"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk $DURATION per row, binary $(basename "$BIN") ($(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo
echo "| Operation | Connections | Requests/s | p50 (ms) | p99 (ms) | Non-2xx |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"

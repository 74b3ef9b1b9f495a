#!/usr/bin/env bash
# Measures the `api` Lambda function (docs/lambda.md): the size of the release bootstrap, its
# GLIBC floor, its cold start under the Runtime API emulator of tests/src/lambda_runtime.rs, and
# the warm per-request overhead of the Lambda path against `coffer serve --backend aws`, both on
# one moto server started here. RUNS=<n> sets the warm sample (default 200).
#   bash bench/lambda_cold_start.sh            # builds what is missing (the release build is slow)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[[ -x .venv/bin/python ]] || { echo "needs .venv with moto (tests/requirements.txt)" >&2; exit 1; }
WORK="$(mktemp -d)"
MOTO_PID=""
trap '[[ -n "$MOTO_PID" ]] && kill "$MOTO_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

cargo build -p coffer --features aws
cp target/debug/coffer "$WORK/coffer-aws"
cargo build -p coffer-api
cp target/debug/coffer-api "$WORK/coffer-api-debug"
[[ -x target/release/coffer-api ]] || cargo build --release -p coffer-api
cp target/release/coffer-api "$WORK/bootstrap"
cp "$WORK/bootstrap" "$WORK/bootstrap-stripped" && strip "$WORK/bootstrap-stripped"
echo "release bootstrap: $(stat -c %s "$WORK/bootstrap") bytes; stripped $(stat -c %s "$WORK/bootstrap-stripped") bytes"
echo "highest GLIBC symbol version: $(objdump -T "$WORK/bootstrap" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"

PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
.venv/bin/python tests/tools/moto_serial.py 127.0.0.1 "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null -X POST "http://127.0.0.1:$PORT/moto-api/reset" && break
  sleep 0.1
done
export COFFER_TEST_AWS_ENDPOINT="http://127.0.0.1:$PORT" AWS_ACCESS_KEY_ID=testing \
  AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
# Warm comparison: both servers debug builds; cold starts: the stripped release bootstrap, then
# the debug binary.
COFFER_BIN="$WORK/coffer-aws" COFFER_API_BIN="$WORK/coffer-api-debug" \
  COLD_API_BINS="$WORK/bootstrap-stripped,$WORK/coffer-api-debug" \
  cargo run -q -p coffer-e2e --example lambda_bench

#!/usr/bin/env bash
# Run every test: formatting, lints, the dependency rule, the build, the whole workspace's
# tests (including the end-to-end suite against a spawned `coffer`), and the AWS CLI smoke
# test against a freshly started server.
#
# Idempotent and self-installing: Debian packages (jq, sqlite3, python3-venv) only when
# missing, a Python venv at .venv with the pinned tools of tests/requirements.txt.
#
# Environment:
#   SKIP_INSTALL=1   do not install anything (use what is there)
#   SKIP_LINT=1      skip cargo fmt and clippy (for quick local iterations; CI never sets it)
#   CARGO_TEST_ARGS  extra arguments for `cargo test --workspace` (e.g. "-- --test-threads=1")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUN_START=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/coffer-run-all.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
SECTION_NAME=""
SECTION_START=$SECONDS
SUMMARY=()

section() {
  end_section
  SECTION_NAME="$1"
  SECTION_START=$SECONDS
  echo
  echo "==== $SECTION_NAME"
}

end_section() {
  if [[ -n "$SECTION_NAME" ]]; then
    local took=$((SECONDS - SECTION_START))
    echo "---- $SECTION_NAME: ${took}s"
    SUMMARY+=("$(printf '%5ss  %s' "$took" "$SECTION_NAME")")
    SECTION_NAME=""
  fi
}

die() {
  echo
  echo "FAIL: $*" >&2
  exit 1
}

SUDO=""
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {
  if [[ "${SKIP_INSTALL:-0}" == 1 ]]; then die "missing $* (SKIP_INSTALL=1)"; fi
  if [[ $APT_UPDATED == 0 ]]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------------------------------------
section "tools"
for tool in jq sqlite3 curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "installing $tool"
    apt_install "$tool"
  fi
  echo "$tool: $(command -v "$tool")"
done

PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || apt_install python3
if [[ ! -x .venv/bin/python ]]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    apt_install python3-venv
    rm -rf .venv
    "$PY" -m venv .venv
  fi
fi
REQ_HASH="$(sha256sum tests/requirements.txt | cut -d' ' -f1)"
if [[ "$(cat .venv/.requirements.sha256 2>/dev/null || true)" != "$REQ_HASH" ]]; then
  [[ "${SKIP_INSTALL:-0}" == 1 ]] && die ".venv is not up to date (SKIP_INSTALL=1)"
  echo "installing tests/requirements.txt into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
  echo "$REQ_HASH" >.venv/.requirements.sha256
fi
echo "aws: $(.venv/bin/aws --version 2>&1)"
cargo --version
rustc --version

# ---------------------------------------------------------------------------------------------
if [[ "${SKIP_LINT:-0}" == 1 ]]; then
  echo "SKIP_LINT=1: not running cargo fmt and clippy"
else
  section "cargo fmt --all --check"
  cargo fmt --all --check || die "formatting differs: run cargo fmt --all"

  section "cargo clippy --workspace --all-targets -- -D warnings"
  cargo clippy --workspace --all-targets -- -D warnings || die "clippy found problems"
fi

section "dependency rule: coffer-core stays pure"
# coffer-core may depend on no AWS SDK, Lambda runtime, HTTP framework or SQLite crate.
TREE="$(cargo tree -p coffer-core -e normal --prefix none --format '{p}')" ||
  die "cargo tree -p coffer-core failed"
FORBIDDEN="$(grep -E '^(aws-|aws_|lambda_|lambda-|axum|hyper|rusqlite|libsqlite3)' <<<"$TREE" | sort -u || true)"
if [[ -n "$FORBIDDEN" ]]; then
  echo "coffer-core depends on forbidden crates:" >&2
  echo "$FORBIDDEN" | sed 's/^/    /' >&2
  echo "path to each (cargo tree -i):" >&2
  while read -r crate _; do
    cargo tree -p coffer-core -e normal -i "$crate" 2>/dev/null | head -20 >&2 || true
  done <<<"$FORBIDDEN"
  die "dependency rule broken: coffer-core must not depend on aws-*, lambda_*, axum, hyper, rusqlite"
fi
echo "coffer-core: $(wc -l <<<"$TREE") crates in its normal dependency tree, none forbidden"

section "cargo build -p coffer"
cargo build -p coffer
COFFER_BIN="$ROOT/target/debug/coffer"
[[ -x "$COFFER_BIN" ]] || die "no binary at $COFFER_BIN"
export COFFER_BIN

section "cargo test --workspace"
# The end-to-end suite spawns $COFFER_BIN itself; make sure it does not target an endpoint
# left over in the environment.
unset COFFER_ENDPOINT COFFER_ACCESS_KEY_ID COFFER_SECRET_ACCESS_KEY
# shellcheck disable=SC2086
cargo test --workspace ${CARGO_TEST_ARGS:-} 2>&1 | tee "$WORK/cargo-test.log"
read -r TESTS_PASSED TESTS_FAILED TESTS_IGNORED < <(
  awk '/^test result:/ {p += $4; f += $6; i += $8} END {print p + 0, f + 0, i + 0}' "$WORK/cargo-test.log"
)
[[ $TESTS_PASSED -gt 0 ]] || die "cargo test ran no test"

# ---------------------------------------------------------------------------------------------
section "AWS CLI smoke test against a fresh coffer"
PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export COFFER_ROOT_ACCESS_KEY_ID="AKIACOFFERSMOKE00001"
COFFER_ROOT_SECRET_ACCESS_KEY="smoke-$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
export COFFER_ROOT_SECRET_ACCESS_KEY
"$COFFER_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/coffer.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -40 "$WORK/coffer.log" >&2; die "coffer exited during start"; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null || {
  tail -40 "$WORK/coffer.log" >&2
  die "coffer did not answer /health within 30 s"
}
AWS_CLI="$ROOT/.venv/bin/aws" AWS_ACCESS_KEY_ID="$COFFER_ROOT_ACCESS_KEY_ID" \
  AWS_SECRET_ACCESS_KEY="$COFFER_ROOT_SECRET_ACCESS_KEY" \
  bash tests/cli/smoke.sh "http://127.0.0.1:$PORT" 2>&1 | tee "$WORK/smoke.log" || {
  echo "--- coffer log (tail) ---" >&2
  tail -40 "$WORK/coffer.log" >&2
  die "AWS CLI smoke test failed"
}
kill -TERM "$SERVER_PID"
STATUS=0
wait "$SERVER_PID" || STATUS=$?
SERVER_PID=""
[[ $STATUS == 0 ]] || die "coffer exited with status $STATUS on SIGTERM"
echo "coffer stopped cleanly on SIGTERM"
SMOKE_PASSED="$(sed -n 's/^smoke: \([0-9]*\) passed.*/\1/p' "$WORK/smoke.log")"

end_section
echo
echo "==== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "total: $((SECONDS - RUN_START))s"
echo "cargo test: $TESTS_PASSED passed, $TESTS_FAILED failed, $TESTS_IGNORED ignored; CLI smoke: ${SMOKE_PASSED:-0} checks"
echo "run-all: $((TESTS_PASSED + ${SMOKE_PASSED:-0})) passed, 0 failed, $TESTS_IGNORED skipped"

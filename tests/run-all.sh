#!/usr/bin/env bash
# Run every test: formatting, lints, the dependency rule, one build of every binary and test
# binary (all features, reused by every pass below), the whole workspace's tests (including
# the end-to-end suite against a spawned `coffer`), the AWS CLI smoke test against a freshly
# started server, and then the AWS backend on moto's server: the coffer-aws contract suites,
# and the end-to-end suite against `coffer serve --backend aws` and through the `api` Lambda
# function, one after the other, each on a moto of its own
# (docs/aws-backend-testing.md).
#
# Idempotent and self-installing: Debian packages (jq, sqlite3, python3-venv, postgresql,
# mariadb-server; their services are never started) only when
# missing, a Python venv at .venv with the pinned tools of tests/requirements.txt (moto's
# server included; this script starts it on a free 127.0.0.1 port and stops it on exit).
#
# Environment:
#   SKIP_INSTALL=1   do not install anything (use what is there)
#   SKIP_LINT=1      skip cargo fmt and clippy (for quick local iterations; CI never sets it)
#   CARGO_TEST_ARGS  extra arguments for `cargo test --workspace` (e.g. "-- --test-threads=1");
#                    the AWS passes run the built test binaries directly, with TEST_BIN_ARGS
#   SKIP_AWS=1       stop after the embedded backend (for quick local iterations; CI never sets it)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUN_START=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/coffer-run-all.XXXXXX")"
SERVER_PID=""
MOTO_PID=""
MOTO2_PID=""
stop_pid() {
  local pid="$1"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}
cleanup() {
  stop_pid "$SERVER_PID"
  stop_pid "$MOTO_PID"
  stop_pid "$MOTO2_PID"
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
[[ -x .venv/bin/moto_server ]] || die ".venv has no moto_server (tests/requirements.txt pins moto[server])"
echo "moto: $(.venv/bin/python -c 'import moto; print(moto.__version__)')"

# Real PostgreSQL and MariaDB for the rotator tests: tests/src/databases.rs starts throwaway
# servers on 127.0.0.1 itself, so the packages' own services must not run. While apt-get
# installs them, a policy-rc.d (unless one exists) denies every service start.
DB_PACKAGES=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || DB_PACKAGES+=(postgresql)
[[ -x /usr/sbin/mariadbd ]] || command -v mariadbd >/dev/null || DB_PACKAGES+=(mariadb-server)
if [[ ${#DB_PACKAGES[@]} -gt 0 ]]; then
  echo "installing ${DB_PACKAGES[*]} (services not started)"
  (
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
      printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
      $SUDO chmod 755 /usr/sbin/policy-rc.d
    fi
    apt_install "${DB_PACKAGES[@]}"
  ) || die "installing ${DB_PACKAGES[*]} failed"
fi
echo "postgresql: $(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -1)"
MARIADBD="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
echo "mariadb: $("$MARIADBD" --version)"
# The rotator tests fail, instead of skipping, when a database is missing.
export COFFER_REQUIRE_DATABASES=1
cargo --version
rustc --version

# ---------------------------------------------------------------------------------------------
if [[ "${SKIP_LINT:-0}" == 1 ]]; then
  echo "SKIP_LINT=1: not running cargo fmt and clippy"
else
  section "cargo fmt --all --check"
  cargo fmt --all --check || die "formatting differs: run cargo fmt --all"

  section "cargo clippy --workspace --all-targets --all-features -- -D warnings"
  # One lint over everything, the AWS backend of the binary (feature `aws`) included.
  cargo clippy --workspace --all-targets --all-features -- -D warnings || die "clippy found problems"
fi

section "dependency rule: coffer-core and coffer-policy stay pure"
# coffer-core and coffer-policy may depend on no AWS SDK, Lambda runtime, HTTP framework or
# SQLite crate; coffer-policy (the IAM policy engine) on no other Coffer crate either.
check_pure() {
  local pkg="$1" forbidden_re="$2" tree forbidden
  tree="$(cargo tree -p "$pkg" -e normal --prefix none --format '{p}')" ||
    die "cargo tree -p $pkg failed"
  forbidden="$(grep -v "^$pkg " <<<"$tree" | grep -E "$forbidden_re" | sort -u || true)"
  if [[ -n "$forbidden" ]]; then
    echo "$pkg depends on forbidden crates:" >&2
    echo "$forbidden" | sed 's/^/    /' >&2
    echo "path to each (cargo tree -i):" >&2
    while read -r crate _; do
      cargo tree -p "$pkg" -e normal -i "$crate" 2>/dev/null | head -20 >&2 || true
    done <<<"$forbidden"
    die "dependency rule broken: $pkg must not depend on crates matching $forbidden_re"
  fi
  echo "$pkg: $(wc -l <<<"$tree") crates in its normal dependency tree, none forbidden"
}
check_pure coffer-core '^(aws-|aws_|lambda_|lambda-|axum|hyper|rusqlite|libsqlite3)'
check_pure coffer-policy '^(coffer-|aws-|aws_|lambda_|lambda-|axum|hyper|rusqlite|libsqlite3)'

section "build every binary and test binary (all features, reused by every pass)"
# One feature set for the whole run: the passes below reuse these artifacts instead of each
# `-p` build compiling its own variant. `coffer` is built with the AWS backend (feature `aws`);
# it runs embedded unless told otherwise.
cargo build --workspace --all-features --bins || die "cargo build --workspace --all-features failed"
cargo test --workspace --all-features --no-run --message-format=json-render-diagnostics \
  >"$WORK/build.json" || die "building the test binaries failed"
COFFER_BIN="$ROOT/target/debug/coffer"
[[ -x "$COFFER_BIN" ]] || die "no binary at $COFFER_BIN"
export COFFER_BIN
# The test executables of one package (integration tests and the library's unit tests).
test_binaries() {
  jq -r --arg pkg "#$1@" 'select(.reason == "compiler-artifact" and .executable != null
      and .profile.test and (.package_id | contains($pkg))) | .executable' "$WORK/build.json"
}
mapfile -t E2E_BINS < <(test_binaries coffer-e2e)
mapfile -t AWS_BINS < <(test_binaries coffer-aws)
[[ ${#E2E_BINS[@]} -gt 0 && ${#AWS_BINS[@]} -gt 0 ]] || die "no test binaries found in the build"
echo "built: $COFFER_BIN, ${#E2E_BINS[@]} end-to-end and ${#AWS_BINS[@]} coffer-aws test binaries"

# Runs test binaries in directory $1 (the package root, as cargo would), the rest of the
# arguments being the binaries; every output line goes to stdout. Fails when one fails.
run_test_binaries() {
  local dir="$1" status=0 bin
  shift
  for bin in "$@"; do
    echo "     Running $(basename "$bin")"
    # shellcheck disable=SC2086
    (cd "$dir" && "$bin" ${TEST_BIN_ARGS:-}) 2>&1 || status=1
  done
  return $status
}

section "cargo test --workspace"
# The end-to-end suite spawns $COFFER_BIN itself; make sure it does not target an endpoint
# left over in the environment.
unset COFFER_ENDPOINT COFFER_ACCESS_KEY_ID COFFER_SECRET_ACCESS_KEY
# This run is the embedded backend's; the AWS backend's runs below set these themselves (the
# coffer-aws tests and the AWS-only e2e tests skip without them).
unset COFFER_E2E_BACKEND COFFER_TEST_AWS_ENDPOINT
# shellcheck disable=SC2086
cargo test --workspace --all-features ${CARGO_TEST_ARGS:-} 2>&1 | tee "$WORK/cargo-test.log"
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

# Counts passed / failed / ignored over the `test result:` lines of a cargo test log.
count_results() {
  awk '/^test result:/ {p += $4; f += $6; i += $8} END {print p + 0, f + 0, i + 0}' "$1"
}

AWS_PASSED=0
AWS_IGNORED=0
if [[ "${SKIP_AWS:-0}" == 1 ]]; then
  echo
  echo "SKIP_AWS=1: not running the AWS backend on moto"
else
  # -------------------------------------------------------------------------------------------
  section "moto servers"
  # Single-threaded: see tests/tools/moto_serial.py (moto's threaded server breaks conditional
  # writes). Two of them: the AWS-backend and the Lambda passes each get a fresh one.
  free_port() {
    .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  }
  MOTO_URL="http://127.0.0.1:$(free_port)"
  MOTO2_URL="http://127.0.0.1:$(free_port)"
  .venv/bin/python tests/tools/moto_serial.py 127.0.0.1 "${MOTO_URL##*:}" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  .venv/bin/python tests/tools/moto_serial.py 127.0.0.1 "${MOTO2_URL##*:}" >"$WORK/moto2.log" 2>&1 &
  MOTO2_PID=$!
  moto_reset() {
    [[ "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$1/moto-api/reset" 2>/dev/null)" == 200 ]]
  }
  for url in "$MOTO_URL" "$MOTO2_URL"; do
    for _ in $(seq 1 300); do
      moto_reset "$url" && break
      kill -0 "$MOTO_PID" 2>/dev/null && kill -0 "$MOTO2_PID" 2>/dev/null ||
        { tail -40 "$WORK/moto.log" "$WORK/moto2.log" >&2; die "moto_server exited during start"; }
      sleep 0.1
    done
    moto_reset "$url" || { tail -40 "$WORK/moto.log" "$WORK/moto2.log" >&2; die "moto_server did not answer within 30 s"; }
  done
  echo "moto_server (pids $MOTO_PID, $MOTO2_PID) answers at $MOTO_URL and $MOTO2_URL"
  # The coffer-aws contract tests and the e2e harness read COFFER_TEST_AWS_ENDPOINT; everything
  # else that talks to AWS (the SDK in `coffer`, `coffer init-table`) takes the standard
  # variables. Dummy credentials: moto accepts any, and nothing may reach a real account.
  export COFFER_TEST_AWS_ENDPOINT="$MOTO_URL"
  export AWS_ACCESS_KEY_ID="testing" AWS_SECRET_ACCESS_KEY="testing"
  export AWS_REGION="us-east-1" AWS_DEFAULT_REGION="us-east-1"
  export AWS_EC2_METADATA_DISABLED="true"
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL

  section "coffer-aws contract suites on moto"
  run_test_binaries shared/aws "${AWS_BINS[@]}" | tee "$WORK/cargo-test-aws.log" ||
    die "the coffer-aws tests failed on moto"
  read -r P F I < <(count_results "$WORK/cargo-test-aws.log")
  [[ $F == 0 ]] || die "the coffer-aws tests failed on moto"
  AWS_PASSED=$((AWS_PASSED + P))
  AWS_IGNORED=$((AWS_IGNORED + I))
  moto_reset "$MOTO_URL" || die "POST /moto-api/reset failed"
  "$COFFER_BIN" init-table --help >/dev/null || die "the aws-enabled coffer does not run"

  section "end-to-end suite on the AWS backend, then through the api Lambda function"
  # The AWS backend: `coffer serve --backend aws` on the first moto. The Lambda pass
  # (docs/lambda.md): the real coffer-api binary under tests/src/lambda_runtime.rs, behind an
  # API Gateway HTTP API (payload 2.0) front, on the second moto; tests that need a server
  # process skip with a reason; tests/tests/lambda_rotation.rs runs api, rotation, scheduler
  # and a rotator together under the emulator. One after the other: run side by side, the two
  # passes' rotator tests initialised MariaDB data directories at once and one failed.
  E2E_AWS_STATUS=0
  E2E_LAMBDA_STATUS=0
  (
    export COFFER_E2E_BACKEND=aws
    run_test_binaries tests "${E2E_BINS[@]}" >"$WORK/cargo-test-e2e-aws.log"
  ) || E2E_AWS_STATUS=$?
  (
    export COFFER_E2E_BACKEND=lambda COFFER_API_BIN="$ROOT/target/debug/coffer-api"
    export COFFER_TEST_AWS_ENDPOINT="$MOTO2_URL"
    run_test_binaries tests "${E2E_BINS[@]}" >"$WORK/cargo-test-e2e-lambda.log"
  ) || E2E_LAMBDA_STATUS=$?
  echo "---- AWS backend pass"
  cat "$WORK/cargo-test-e2e-aws.log"
  echo "---- Lambda pass"
  cat "$WORK/cargo-test-e2e-lambda.log"
  [[ $E2E_AWS_STATUS == 0 ]] || die "the end-to-end suite failed on the AWS backend"
  [[ $E2E_LAMBDA_STATUS == 0 ]] || die "the end-to-end suite failed through the api Lambda function"
  for log in "$WORK/cargo-test-e2e-aws.log" "$WORK/cargo-test-e2e-lambda.log"; do
    read -r P F I < <(count_results "$log")
    [[ $P -gt 0 ]] || die "a pass ran no test ($log)"
    [[ $F == 0 ]] || die "a pass had failures ($log)"
    AWS_PASSED=$((AWS_PASSED + P))
    AWS_IGNORED=$((AWS_IGNORED + I))
  done

  section "stop moto"
  stop_pid "$MOTO_PID"
  stop_pid "$MOTO2_PID"
  MOTO_PID=""
  MOTO2_PID=""
  echo "moto_server stopped"
fi

section "infrastructure checks"
bash tests/infra/run.sh || die "the infrastructure checks failed (tests/infra/run.sh)"

end_section
echo
echo "==== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "total: $((SECONDS - RUN_START))s"
echo "cargo test: $TESTS_PASSED passed, $TESTS_FAILED failed, $TESTS_IGNORED ignored; CLI smoke: ${SMOKE_PASSED:-0} checks"
echo "AWS backend on moto (coffer-aws contracts + e2e suite on coffer serve and through Lambda): $AWS_PASSED passed, $AWS_IGNORED ignored"
echo "run-all: $((TESTS_PASSED + ${SMOKE_PASSED:-0} + AWS_PASSED)) passed, 0 failed, $((TESTS_IGNORED + AWS_IGNORED)) skipped"

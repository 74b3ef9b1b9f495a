#!/usr/bin/env bash
# Run every test (the README's test command; .ci/run calls it). In order:
#   1. tools: Debian packages when missing; in the background, while Rust compiles, the
#      Python venv (.venv: AWS CLI, moto, cfn-lint) and then the infrastructure checks
#      (tests/infra/run.sh: cfn-lint, cdk synth + cdk-nag, CDK assertion tests, moto deploy);
#   2. cargo fmt, and the dependency rules (cargo tree);
#   3. one compilation of every target (binaries, libraries, tests, benches) with all
#      features, linted by clippy in the same pass (clippy-driver as the workspace's rustc
#      wrapper, -D warnings): no separate `cargo clippy` that checks the whole tree again;
#   4. four test streams side by side, each reusing those binaries:
#      - workspace: every test binary but the AWS adapter's and the end-to-end suite
#        (in-process service tests, policy engine, router, SQLite/keyring contract suites, unit
#        tests), then the AWS CLI smoke test;
#      - embedded: the whole end-to-end suite against a spawned `coffer`;
#      - AWS backend, on a moto of its own: the end-to-end tests tests/deployment-subset.txt
#        tags for it, against `coffer serve --backend aws`;
#      - Lambda, on another moto: the tests tagged for it through the `api` function under the
#        Runtime API emulator (docs/lambda.md), then the coffer-aws contract suites;
#   5. the summary: seconds per section, tests per layer, skips with their reasons.
#
# Idempotent and self-installing: Debian packages (jq, sqlite3, curl, python3-venv,
# postgresql, mariadb-server; their services are never started) only when missing, the venv
# only when tests/requirements.txt changed. Every server it starts (moto, coffer, databases)
# listens on 127.0.0.1 and is stopped on exit.
#
# Environment:
#   SKIP_INSTALL=1   do not install anything (use what is there)
#   SKIP_LINT=1      skip cargo fmt and clippy (for quick local iterations; CI never sets it)
#   SKIP_AWS=1       no AWS-backend and Lambda streams (quick local iterations; CI never sets it)
#   SKIP_INFRA=1     no infrastructure checks (quick local iterations; CI never sets it)
#   TEST_BIN_ARGS    extra arguments for every test binary (e.g. "--test-threads=1")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUN_START=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/coffer-run-all.XXXXXX")"
BACKGROUND_PIDS=()
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
  local pid
  for pid in "${BACKGROUND_PIDS[@]}"; do
    # A background job is a subshell: stop its children (test binaries, servers) too.
    pkill -TERM -P "$pid" 2>/dev/null || true
    stop_pid "$pid"
  done
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

# Starts `$2...` (a shell function or command) in the background, its output in
# $WORK/$1.log, its status in $WORK/$1.status and its duration in $WORK/$1.seconds.
start_background() {
  local name="$1"
  shift
  (
    started=$SECONDS
    status=0
    "$@" >"$WORK/$name.log" 2>&1 || status=$?
    echo $((SECONDS - started)) >"$WORK/$name.seconds"
    echo "$status" >"$WORK/$name.status"
  ) &
  BACKGROUND_PIDS+=($!)
}

# Waits for the background job `$1`; prints its log; fails the run if it failed.
finish_background() {
  local name="$1" what="$2"
  while [[ ! -e "$WORK/$name.status" ]]; do sleep 0.5; done
  echo "---- $what (log)"
  cat "$WORK/$name.log"
  SUMMARY+=("$(printf '%5ss    of which, side by side: %s' "$(cat "$WORK/$name.seconds")" "$what")")
  [[ "$(cat "$WORK/$name.status")" == 0 ]] || die "$what failed (log above)"
}

# Blocks until the background job `$1` is done, without printing it; its status.
await_background() {
  while [[ ! -e "$WORK/$1.status" ]]; do sleep 0.5; done
  return "$(cat "$WORK/$1.status")"
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
# venv with pip (the venv itself is made in the background, below).
"$PY" -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv

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

# The Python tools, then the infrastructure checks, in the background while Rust compiles
# (pip and node wait on the network and the disk more than on the CPU).
install_python_tools() {
  local req_hash
  if [[ ! -x .venv/bin/python ]]; then
    rm -rf .venv
    "$PY" -m venv .venv
  fi
  req_hash="$(sha256sum tests/requirements.txt | cut -d' ' -f1)"
  if [[ "$(cat .venv/.requirements.sha256 2>/dev/null || true)" != "$req_hash" ]]; then
    [[ "${SKIP_INSTALL:-0}" == 1 ]] && { echo ".venv is not up to date (SKIP_INSTALL=1)"; return 1; }
    echo "installing tests/requirements.txt into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
    echo "$req_hash" >.venv/.requirements.sha256
  fi
  echo "aws: $(.venv/bin/aws --version 2>&1)"
  [[ -x .venv/bin/moto_server ]] || { echo ".venv has no moto_server (tests/requirements.txt pins moto[server])"; return 1; }
  echo "moto: $(.venv/bin/python -c 'import moto; print(moto.__version__)')"
}
python_tools_then_infra() {
  install_python_tools >"$WORK/python-tools.log" 2>&1 || { echo failed >"$WORK/python-tools.done"; return 1; }
  echo ok >"$WORK/python-tools.done"
  if [[ "${SKIP_INFRA:-0}" == 1 ]]; then
    echo "SKIP_INFRA=1: no infrastructure checks"
  else
    bash tests/infra/run.sh
  fi
}
start_background infra python_tools_then_infra
echo "started in the background: the Python tools (.venv), then the infrastructure checks"

# ---------------------------------------------------------------------------------------------
if [[ "${SKIP_LINT:-0}" == 1 ]]; then
  echo "SKIP_LINT=1: not running cargo fmt and clippy"
else
  section "cargo fmt --all --check"
  cargo fmt --all --check || die "formatting differs: run cargo fmt --all"
fi

section "dependency rules (cargo tree)"
# Fails when `$1`'s normal dependency tree holds a crate matching `$2` (other than itself).
check_deps() {
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
  echo "$pkg: $(sort -u <<<"$tree" | wc -l) crates in its normal dependency tree, none matching $forbidden_re"
}
# The domain and the policy engine: no AWS SDK, Lambda runtime, HTTP framework or SQLite;
# the policy engine depends on no other Coffer crate.
PLATFORM='^(aws-|aws_|lambda_|lambda-|axum|hyper|rusqlite|libsqlite3|tokio-postgres|mysql_async)'
check_deps coffer-core "$PLATFORM"
check_deps coffer-policy "$PLATFORM|^coffer-"
# Adapters depend on the core, not on each other.
check_deps coffer-wire '^(coffer-aws|coffer-embedded|coffer-rotators|rusqlite|aws-sdk-) '
check_deps coffer-aws '^(coffer-wire|coffer-embedded|coffer-rotators|rusqlite) '
check_deps coffer-embedded '^(coffer-wire|coffer-aws|coffer-rotators|aws-) '
# Lambda bootstraps link what they use: no SQLite anywhere, a database driver only in its
# rotator.
for fn in coffer-lambda-host coffer-api coffer-rotation coffer-scheduler; do
  check_deps "$fn" '^(rusqlite|libsqlite3-sys|tokio-postgres|mysql_async) '
done
check_deps coffer-rotator-postgres '^(rusqlite|libsqlite3-sys|mysql_async) '
check_deps coffer-rotator-mysql '^(rusqlite|libsqlite3-sys|tokio-postgres) '

section "build and lint every target (all features; clippy -D warnings in the same pass)"
# One feature set and one compilation for the whole run: every test stream below runs these
# artifacts. The rustc of the workspace's own crates is clippy-driver, which lints and then
# compiles (what `cargo clippy` does, without its separate check-only build of the tree).
# Dependencies compile with plain rustc. No incremental state: this is a fresh build.
export CARGO_INCREMENTAL=0
if [[ "${SKIP_LINT:-0}" != 1 ]]; then
  CLIPPY_DRIVER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver || true)"
  [[ -x "$CLIPPY_DRIVER" ]] || die "clippy-driver not found (rustup component add clippy)"
  export RUSTC_WORKSPACE_WRAPPER="$CLIPPY_DRIVER"
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
  echo "linting with $CLIPPY_DRIVER (-D warnings)"
fi
cargo build --workspace --all-features --all-targets --message-format=json-render-diagnostics \
  >"$WORK/build.json" || die "the build (or clippy) failed: see the diagnostics above"
COFFER_BIN="$ROOT/target/debug/coffer"
[[ -x "$COFFER_BIN" ]] || die "no binary at $COFFER_BIN"
export COFFER_BIN COFFER_API_BIN="$ROOT/target/debug/coffer-api"
# Every test executable: "<package dir>\t<package>\t<executable>".
jq -r 'select(.reason == "compiler-artifact" and .executable != null and .profile.test)
    | [(.manifest_path | sub("/Cargo.toml$"; "")), (.package_id | capture("#(?<n>[^@]+)@").n),
       .executable] | @tsv' "$WORK/build.json" | sort -u >"$WORK/test-binaries.tsv"
E2E_BIN="$(awk -F'\t' '$2 == "coffer-e2e" && $3 ~ /\/e2e-[0-9a-f]+$/ {print $3}' "$WORK/test-binaries.tsv")"
[[ -x "$E2E_BIN" ]] || die "no end-to-end test binary (tests/tests/e2e) in the build"
echo "built: $COFFER_BIN, $COFFER_API_BIN, $(wc -l <"$WORK/test-binaries.tsv") test binaries"

# The end-to-end subsets of the AWS-backend and Lambda passes (tests/deployment-subset.txt:
# "<passes> <filter>" per line); every filter must match a test.
"$E2E_BIN" --list --format terse 2>/dev/null | sed -n 's/: test$//p' >"$WORK/e2e-tests.txt"
AWS_FILTERS=()
LAMBDA_FILTERS=()
EMBEDDED_SKIPS=()
while read -r passes filter rest; do
  [[ -z "$passes" || "$passes" == \#* ]] && continue
  [[ -n "$filter" && -z "$rest" ]] || die "tests/deployment-subset.txt: \"$passes $filter $rest\" is not \"<passes> <filter>\""
  grep -qF -- "$filter" "$WORK/e2e-tests.txt" ||
    die "tests/deployment-subset.txt: \"$filter\" matches no end-to-end test (renamed?)"
  case "$passes" in
    both) AWS_FILTERS+=("$filter") LAMBDA_FILTERS+=("$filter") ;;
    aws) AWS_FILTERS+=("$filter") ;;
    aws-only) AWS_FILTERS+=("$filter") EMBEDDED_SKIPS+=(--skip "$filter") ;;
    lambda-only) LAMBDA_FILTERS+=("$filter") EMBEDDED_SKIPS+=(--skip "$filter") ;;
    *) die "tests/deployment-subset.txt: unknown passes \"$passes\" (both, aws, aws-only, lambda-only)" ;;
  esac
done <tests/deployment-subset.txt
matching() { grep -cF -f <(printf '%s\n' "$@") "$WORK/e2e-tests.txt"; }
echo "end-to-end suite: $(wc -l <"$WORK/e2e-tests.txt") tests; AWS-backend pass: $(matching "${AWS_FILTERS[@]}");" \
  "Lambda pass: $(matching "${LAMBDA_FILTERS[@]}"); embedded pass: all but $(matching $(printf '%s\n' "${EMBEDDED_SKIPS[@]}" | grep -v -- --skip))"

# Runs a test binary in its package directory (as cargo would); output to stdout, and one
# line "<package>\t<binary>\t<passed>\t<failed>\t<ignored>" appended to $WORK/counts-$STREAM.
run_test_binary() {
  local dir="$1" pkg="$2" bin="$3" log status=0
  shift 3
  log="$WORK/$(basename "$bin")-$STREAM.log"
  echo "     Running $pkg $(basename "$bin") $*"
  # shellcheck disable=SC2086
  (cd "$dir" && "$bin" "$@" ${TEST_BIN_ARGS:-}) >"$log" 2>&1 || status=$?
  cat "$log"
  awk -v pkg="$pkg" -v bin="$(basename "$bin")" '/^test result:/ {p += $4; f += $6; i += $8}
      END {printf "%s\t%s\t%d\t%d\t%d\n", pkg, bin, p, f, i}' "$log" >>"$WORK/counts-$STREAM"
  return $status
}

# ---------------------------------------------------------------------------------------------
# The three streams. Each exports what it needs in its own subshell.
# The embedded backend's environment: no endpoint or AWS backend left over.
embedded_env() {
  unset COFFER_ENDPOINT COFFER_ACCESS_KEY_ID COFFER_SECRET_ACCESS_KEY
  unset COFFER_E2E_BACKEND COFFER_TEST_AWS_ENDPOINT
}

# The end-to-end suite on the embedded backend: the longest stream (its concurrency test alone
# is 1,600 durable writes on one secret), so it runs on its own.
e2e_embedded_stream() {
  STREAM=embedded
  embedded_env
  export COFFER_E2E_SKIP_LOG="$WORK/skips-embedded"
  # Without the tests that need another deployment (they would only skip here).
  run_test_binary "$ROOT/tests" coffer-e2e "$E2E_BIN" "${EMBEDDED_SKIPS[@]}"
}

# Every other test binary of the workspace but the AWS adapter's (on moto, in the Lambda
# stream), then the AWS CLI smoke test.
workspace_stream() {
  STREAM=workspace
  embedded_env
  export COFFER_E2E_SKIP_LOG="$WORK/skips-workspace"
  local status=0 dir pkg bin
  while IFS=$'\t' read -r dir pkg bin; do
    [[ "$pkg" == coffer-aws || "$bin" == "$E2E_BIN" ]] && continue
    run_test_binary "$dir" "$pkg" "$bin" || status=1
  done <"$WORK/test-binaries.tsv"
  smoke_test || status=1
  return $status
}

smoke_test() {
  echo
  echo "---- AWS CLI smoke test against a fresh coffer"
  local port pid status=0
  port="$(free_port)"
  export COFFER_ROOT_ACCESS_KEY_ID="AKIACOFFERSMOKE00001"
  COFFER_ROOT_SECRET_ACCESS_KEY="smoke-$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  export COFFER_ROOT_SECRET_ACCESS_KEY
  "$COFFER_BIN" serve --listen "127.0.0.1:$port" --data-dir "$WORK/smoke-data" >"$WORK/coffer.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! curl -fsS "http://127.0.0.1:$port/health" >/dev/null; then
    tail -40 "$WORK/coffer.log"
    echo "coffer did not answer /health within 30 s"
    stop_pid "$pid"
    return 1
  fi
  AWS_CLI="$ROOT/.venv/bin/aws" AWS_ACCESS_KEY_ID="$COFFER_ROOT_ACCESS_KEY_ID" \
    AWS_SECRET_ACCESS_KEY="$COFFER_ROOT_SECRET_ACCESS_KEY" \
    bash tests/cli/smoke.sh "http://127.0.0.1:$port" 2>&1 | tee "$WORK/smoke.log" || {
    echo "--- coffer log (tail) ---"
    tail -40 "$WORK/coffer.log"
    stop_pid "$pid"
    return 1
  }
  kill -TERM "$pid"
  wait "$pid" || status=$?
  [[ $status == 0 ]] || { echo "coffer exited with status $status on SIGTERM"; return 1; }
  echo "coffer stopped cleanly on SIGTERM"
}

free_port() {
  .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The environment of a stream on moto `$1`: the coffer-aws contract tests and the e2e harness
# read COFFER_TEST_AWS_ENDPOINT; everything else that talks to AWS (the SDK in `coffer`,
# `coffer init-table`) takes the standard variables. Dummy credentials: moto accepts any, and
# nothing may reach a real account.
on_moto_env() {
  export COFFER_TEST_AWS_ENDPOINT="$1"
  export AWS_ACCESS_KEY_ID="testing" AWS_SECRET_ACCESS_KEY="testing"
  export AWS_REGION="us-east-1" AWS_DEFAULT_REGION="us-east-1"
  export AWS_EC2_METADATA_DISABLED="true"
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
  unset COFFER_ENDPOINT COFFER_ACCESS_KEY_ID COFFER_SECRET_ACCESS_KEY
}

aws_stream() {
  STREAM=aws
  on_moto_env "$MOTO_URL"
  export COFFER_E2E_SKIP_LOG="$WORK/skips-aws"
  export COFFER_E2E_BACKEND=aws
  run_test_binary "$ROOT/tests" coffer-e2e "$E2E_BIN" "${AWS_FILTERS[@]}"
}

# The Lambda pass is the shorter one: its moto then serves the coffer-aws contract suites.
lambda_stream() {
  STREAM=lambda
  on_moto_env "$MOTO2_URL"
  local status=0 dir pkg bin
  (
    export COFFER_E2E_SKIP_LOG="$WORK/skips-lambda"
    export COFFER_E2E_BACKEND=lambda
    run_test_binary "$ROOT/tests" coffer-e2e "$E2E_BIN" "${LAMBDA_FILTERS[@]}"
  ) || status=1
  moto_reset "$MOTO2_URL" || { echo "POST /moto-api/reset failed"; return 1; }
  while IFS=$'\t' read -r dir pkg bin; do
    [[ "$pkg" == coffer-aws ]] || continue
    run_test_binary "$dir" "$pkg" "$bin" || status=1
  done <"$WORK/test-binaries.tsv"
  return $status
}

moto_reset() {
  [[ "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$1/moto-api/reset" 2>/dev/null)" == 200 ]]
}

section "tests: four streams side by side (workspace, e2e embedded, e2e AWS backend, e2e Lambda)"
await_background_python() {
  while [[ ! -e "$WORK/python-tools.done" ]]; do
    [[ -e "$WORK/infra.status" ]] && break
    sleep 0.5
  done
  cat "$WORK/python-tools.log" 2>/dev/null || true
  [[ "$(cat "$WORK/python-tools.done" 2>/dev/null)" == ok ]] || die "installing the Python tools into .venv failed"
}
await_background_python
if [[ "${SKIP_AWS:-0}" != 1 ]]; then
  # Single-threaded: see tests/tools/moto_serial.py (moto's threaded server breaks conditional
  # writes). One per stream.
  MOTO_URL="http://127.0.0.1:$(free_port)"
  MOTO2_URL="http://127.0.0.1:$(free_port)"
  .venv/bin/python tests/tools/moto_serial.py 127.0.0.1 "${MOTO_URL##*:}" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  .venv/bin/python tests/tools/moto_serial.py 127.0.0.1 "${MOTO2_URL##*:}" >"$WORK/moto2.log" 2>&1 &
  MOTO2_PID=$!
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
  start_background aws aws_stream
  start_background lambda lambda_stream
else
  echo "SKIP_AWS=1: no AWS-backend and Lambda streams"
fi
start_background embedded e2e_embedded_stream
start_background workspace workspace_stream
echo "running: e2e on the embedded backend, the other workspace tests$([[ "${SKIP_AWS:-0}" != 1 ]] && echo ", AWS backend, Lambda") (logs follow)"
finish_background workspace "workspace tests (in-process, contracts, unit) and the CLI smoke test"
finish_background embedded "e2e suite on the embedded backend"
if [[ "${SKIP_AWS:-0}" != 1 ]]; then
  finish_background aws "AWS-backend stream (e2e subset on coffer serve --backend aws)"
  finish_background lambda "Lambda stream (e2e subset through the api function, then the coffer-aws contract suites)"
  stop_pid "$MOTO_PID"
  stop_pid "$MOTO2_PID"
  MOTO_PID=""
  MOTO2_PID=""
fi

section "waiting for the infrastructure checks (started during the build)"
finish_background infra "infrastructure checks (from the start of the build)"

end_section
# ---------------------------------------------------------------------------------------------
# Tests per layer, from the counts of every binary run.
layer_of() {
  case "$1/$2" in
    coffer-e2e/e2e-*)
      case "$3" in
        embedded) echo "end-to-end, embedded backend (whole suite)" ;;
        aws) echo "end-to-end, coffer serve --backend aws on moto (subset)" ;;
        lambda) echo "end-to-end, api Lambda function on moto (subset)" ;;
      esac
      ;;
    coffer-aws/coffer_aws-*) echo "unit tests of the other crates" ;;
    coffer-aws/*) echo "adapter contract suites, AWS (on moto)" ;;
    coffer-embedded/sqlite_* | coffer-embedded/keyring_*) echo "adapter contract suites, embedded" ;;
    coffer-wire/*) echo "router and wire (in-process)" ;;
    coffer-core/* | coffer-policy/* | coffer-testkit/*) echo "service, policy and domain (in-process)" ;;
    *) echo "unit tests of the other crates" ;;
  esac
}
declare -A LAYER_P LAYER_F LAYER_I
TOTAL_P=0 TOTAL_F=0 TOTAL_I=0
for stream in workspace embedded aws lambda; do
  [[ -e "$WORK/counts-$stream" ]] || continue
  while IFS=$'\t' read -r pkg bin p f i; do
    layer="$(layer_of "$pkg" "$bin" "$stream")"
    LAYER_P[$layer]=$((${LAYER_P[$layer]:-0} + p))
    LAYER_F[$layer]=$((${LAYER_F[$layer]:-0} + f))
    LAYER_I[$layer]=$((${LAYER_I[$layer]:-0} + i))
    TOTAL_P=$((TOTAL_P + p)) TOTAL_F=$((TOTAL_F + f)) TOTAL_I=$((TOTAL_I + i))
  done <"$WORK/counts-$stream"
done
SMOKE_PASSED="$(sed -n 's/^smoke: \([0-9]*\) passed.*/\1/p' "$WORK/smoke.log" 2>/dev/null || true)"
INFRA_PASSED="$(sed -n 's/^infra checks: \([0-9]*\) passed.*/\1/p' "$WORK/infra.log" | tail -1)"
cat "$WORK"/skips-* 2>/dev/null | sort >"$WORK/skips.txt" || true
echo
echo "==== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "total: $((SECONDS - RUN_START))s"
echo
echo "tests per layer (passed / failed / ignored):"
for layer in "${!LAYER_P[@]}"; do
  printf '  %6d / %d / %d  %s\n' "${LAYER_P[$layer]}" "${LAYER_F[$layer]}" "${LAYER_I[$layer]}" "$layer"
done | sort -k5
printf '  %6d checks     AWS CLI smoke test\n' "${SMOKE_PASSED:-0}"
printf '  %6s checks     infrastructure (tests/infra/run.sh)\n' "${INFRA_PASSED:-0}"
echo "skipped at run time (a test that returned early, and why): $(wc -l <"$WORK/skips.txt")"
sed 's/^/  /' "$WORK/skips.txt"
[[ $TOTAL_F == 0 && $TOTAL_P -gt 0 ]] || die "test failures: $TOTAL_F (or no test ran)"
echo "run-all: $((TOTAL_P + ${SMOKE_PASSED:-0})) passed, 0 failed, $TOTAL_I ignored, $(wc -l <"$WORK/skips.txt") skipped"

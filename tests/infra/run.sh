#!/usr/bin/env bash
# Infrastructure checks (run by tests/run-all.sh; also on its own: `bash tests/infra/run.sh`):
#   1. cfn-lint on infra/sam/template.yaml and on its SAM-transformed CloudFormation
#   2. cdk synth of infra/cdk with cdk-nag's AwsSolutions pack (default and iam/VPC/BYO-key variants)
#   3. the CDK assertion tests (node --test)
#   4. a deploy smoke test: the transformed template into moto's CloudFormation
#   5. only with COFFER_PACKAGE=1: infra/package.sh (the release build, 10+ minutes)
# Self-installing: tests/requirements.txt into .venv (when its hash changed), `npm ci` in
# infra/cdk (when package-lock.json changed). Functions are not built: when
# target/lambda/<binary>/bootstrap.zip is missing, the CDK app is pointed at placeholder zips
# (COFFER_LAMBDA_ASSETS) and the moto deploy uploads a placeholder zip.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
RUN_START=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/coffer-infra.XXXXXX")"
MOTO_PID=""
PASSED=0

cleanup() {
  if [[ -n "$MOTO_PID" ]]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

die() {
  echo "tests/infra/run.sh: FAILED: $*" >&2
  echo "infra checks: $PASSED passed, 1 failed"
  exit 1
}
step() { echo; echo "-- infra: $1"; STEP_START=$SECONDS; }
ok() { PASSED=$((PASSED + 1)); echo "-- infra: ok ($((SECONDS - STEP_START)) s)"; }

# ---- tools
step "tools"
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import cfnlint, samtranslator, moto, boto3' 2>/dev/null; then
  echo "installing tests/requirements.txt into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
fi
echo "cfn-lint $(.venv/bin/cfn-lint --version | awk '{print $2}'), aws-sam-translator $(.venv/bin/python -c 'import samtranslator; print(samtranslator.__version__)'), moto $(.venv/bin/python -c 'import moto; print(moto.__version__)')"
command -v node >/dev/null || die "node is needed for infra/cdk"
CDK_DIR=infra/cdk
LOCK_HASH="$(sha256sum "$CDK_DIR/package-lock.json" | cut -d' ' -f1)"
if [[ "$(cat "$CDK_DIR/node_modules/.coffer-lock.sha256" 2>/dev/null || true)" != "$LOCK_HASH" ]]; then
  echo "npm ci in $CDK_DIR"
  (cd "$CDK_DIR" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  echo "$LOCK_HASH" >"$CDK_DIR/node_modules/.coffer-lock.sha256"
fi
echo "node $(node --version), $(cd "$CDK_DIR" && node -p 'require("aws-cdk-lib/package.json").version' | sed 's/^/aws-cdk-lib /'), $(cd "$CDK_DIR" && node -p 'require("cdk-nag/package.json").version' | sed 's/^/cdk-nag /')"
ok

# ---- 1. cfn-lint
step "cfn-lint on the SAM template and on the transformed CloudFormation"
.venv/bin/python tests/infra/sam_transform.py infra/sam/template.yaml "$WORK/sam-transformed.json" ||
  die "the SAM transform failed"
.venv/bin/cfn-lint infra/sam/template.yaml "$WORK/sam-transformed.json" || die "cfn-lint found problems"
echo "cfn-lint: no findings"
ok

# ---- 2. cdk synth + cdk-nag
step "cdk synth with cdk-nag AwsSolutions"
ASSETS="$ROOT/target/lambda"
for b in coffer-api coffer-rotation coffer-scheduler coffer-rotator-postgres coffer-rotator-mysql; do
  if [[ ! -f "$ASSETS/$b/bootstrap.zip" ]]; then
    ASSETS="$WORK/placeholder-assets"
    break
  fi
done
if [[ "$ASSETS" == "$WORK/placeholder-assets" ]]; then
  echo "target/lambda/*/bootstrap.zip not built (infra/package.sh): synthesizing with placeholder zips"
  .venv/bin/python - "$ASSETS" <<'EOF'
import os, sys, zipfile
root = sys.argv[1]
for b in ["coffer-api", "coffer-rotation", "coffer-scheduler", "coffer-rotator-postgres", "coffer-rotator-mysql"]:
    os.makedirs(os.path.join(root, b))
    with zipfile.ZipFile(os.path.join(root, b, "bootstrap.zip"), "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
EOF
fi
(cd "$CDK_DIR" && npx tsc) || die "tsc failed"
# No AWS credentials or account lookups: synthesis is offline and environment-agnostic.
cdk_synth() {
  local out="$1"
  shift
  (cd "$CDK_DIR" && env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
    AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true COFFER_LAMBDA_ASSETS="$ASSETS" \
    npx cdk synth --quiet --no-notices --output "$out" "$@") >"$out.log" 2>&1
}
cdk_synth "$WORK/cdk.out" || { cat "$WORK/cdk.out.log"; die "cdk synth (defaults) failed"; }
echo "default stack (sigv4, x86_64, new key): $(grep -c '"Type"' "$WORK/cdk.out/coffer.template.json") typed entries, no cdk-nag finding"
cdk_synth "$WORK/cdk-iam.out" -c authMode=iam -c architecture=arm64 \
  -c existingKeyArn=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab \
  -c rotatorSubnetIds=subnet-0123456789abcdef0 -c rotatorSecurityGroupIds=sg-0123456789abcdef0 \
  -c extraRotationFunctionArns=arn:aws:lambda:us-east-1:111122223333:function:my-rotator ||
  { cat "$WORK/cdk-iam.out.log"; die "cdk synth (iam, arm64, own key, VPC) failed"; }
echo "variant (iam, arm64, own key, VPC rotators): no cdk-nag finding"
# W3005 (a DependsOn already implied by a GetAtt) is how CDK's lambda.Function always orders a
# function after its role; it is redundant, not wrong, and not ours to change.
.venv/bin/cfn-lint --ignore-checks W3005 -- "$WORK/cdk.out/coffer.template.json" "$WORK/cdk-iam.out/coffer.template.json" ||
  die "cfn-lint found problems in the CDK templates"
echo "cfn-lint on both synthesized templates: no findings (W3005 ignored: CDK-generated DependsOn)"
ok

# ---- 3. CDK assertion tests
step "CDK assertion tests"
(cd "$CDK_DIR" && node --test dist/test/coffer-stack.test.js) >"$WORK/cdk-test.log" 2>&1 ||
  { cat "$WORK/cdk-test.log"; die "CDK assertion tests failed"; }
grep -E '^# (tests|pass|fail)' "$WORK/cdk-test.log"
ok

# ---- 4. moto deploy smoke test
step "deploy the SAM-transformed template into moto's CloudFormation"
MOTO_PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
.venv/bin/python tests/tools/moto_serial.py 127.0.0.1 "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 300); do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$MOTO_PORT/moto-api/reset" && break
  kill -0 "$MOTO_PID" 2>/dev/null || { tail -20 "$WORK/moto.log"; die "moto did not start"; }
  sleep 0.1
done
.venv/bin/python tests/infra/moto_deploy.py "http://127.0.0.1:$MOTO_PORT" "$WORK/sam-transformed.json" ||
  { grep -v '^127.0.0.1' "$WORK/moto.log" | tail -30; die "the moto deploy smoke test failed"; }
kill "$MOTO_PID" 2>/dev/null || true
wait "$MOTO_PID" 2>/dev/null || true
MOTO_PID=""
ok

# ---- 5. packaging (opt-in)
if [[ "${COFFER_PACKAGE:-0}" == 1 ]]; then
  step "infra/package.sh (release build of the five functions)"
  bash infra/package.sh || die "packaging failed"
  ok
else
  echo
  echo "-- infra: packaging skipped (COFFER_PACKAGE=1 runs infra/package.sh, a 10+ minute release build)"
fi

echo
echo "infra checks took $((SECONDS - RUN_START)) s"
echo "infra checks: $PASSED passed, 0 failed"

#!/usr/bin/env bash
# Deploys the Coffer stack to a running LocalStack (docker compose up -d), with SAM or CDK:
#   bash localstack/deploy.sh sam     # samlocal (pip install aws-sam-cli-local==1.71.0); needs cargo-lambda
#   bash localstack/deploy.sh cdk     # cdklocal (npm aws-cdk-local@3.0.4); zips from infra/package.sh
# Writes the endpoint and root credentials to localstack/.deployed.env for e2e.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOL="${1:-sam}"
STACK="${COFFER_STACK:-coffer}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
LS="${LOCALSTACK_ENDPOINT:-http://localhost:4566}"

curl -sf "$LS/_localstack/health" >/dev/null ||
  { echo "LocalStack does not answer at $LS: docker compose -f localstack/docker-compose.yml up -d" >&2; exit 1; }

# Coffer's own root key pair for sigv4 mode (kept for e2e.sh).
ROOT_KEY_ID="${COFFER_ROOT_ACCESS_KEY_ID:-AKIA$(LC_ALL=C tr -dc 'A-Z2-7' </dev/urandom | head -c 16)}"
ROOT_SECRET="${COFFER_ROOT_SECRET_ACCESS_KEY:-$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 40)}"

case "$TOOL" in
  sam)
    command -v samlocal >/dev/null || { echo "pip install aws-sam-cli-local==1.71.0 aws-sam-cli" >&2; exit 1; }
    cd "$ROOT/infra/sam"
    samlocal build --beta-features
    samlocal deploy --stack-name "$STACK" --resolve-s3 --no-confirm-changeset --no-fail-on-empty-changeset \
      --capabilities CAPABILITY_IAM \
      --parameter-overrides "RootAccessKeyId=$ROOT_KEY_ID" "RootSecretAccessKey=$ROOT_SECRET" \
      "TableDeletionProtection=false" "RotatorAccessKeyId=$ROOT_KEY_ID" "RotatorSecretAccessKey=$ROOT_SECRET"
    ;;
  cdk)
    bash "$ROOT/infra/package.sh"
    cd "$ROOT/infra/cdk"
    npm ci --no-audit --no-fund && npx tsc
    export AWS_ENDPOINT_URL="$LS"
    npx --yes --package aws-cdk-local@3.0.4 cdklocal bootstrap
    npx --yes --package aws-cdk-local@3.0.4 cdklocal deploy "$STACK" -c stackName="$STACK" \
      -c tableDeletionProtection=false --require-approval never \
      --parameters "RootAccessKeyId=$ROOT_KEY_ID" --parameters "RootSecretAccessKey=$ROOT_SECRET" \
      --parameters "RotatorAccessKeyId=$ROOT_KEY_ID" --parameters "RotatorSecretAccessKey=$ROOT_SECRET"
    ;;
  *) echo "usage: deploy.sh sam|cdk" >&2; exit 2 ;;
esac

# The HTTP API's id; LocalStack serves it at http://<id>.execute-api.localhost.localstack.cloud:4566/.
API_ID="$(aws --endpoint-url "$LS" apigatewayv2 get-apis --query "Items[?Name=='$STACK-coffer'].ApiId | [0]" --output text)"
[[ -n "$API_ID" && "$API_ID" != None ]] || { echo "no HTTP API named $STACK-coffer was deployed" >&2; exit 1; }
ENDPOINT="http://$API_ID.execute-api.localhost.localstack.cloud:4566/"
umask 077
cat >"$ROOT/localstack/.deployed.env" <<ENV
COFFER_E2E_ENDPOINT=$ENDPOINT
COFFER_E2E_ACCESS_KEY_ID=$ROOT_KEY_ID
COFFER_E2E_SECRET_ACCESS_KEY=$ROOT_SECRET
ENV
echo "deployed $STACK with $TOOL: $ENDPOINT (credentials in localstack/.deployed.env)"
curl -s "${ENDPOINT}health" && echo

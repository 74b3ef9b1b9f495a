#!/usr/bin/env node
// `cdk deploy` entry point. Choices come from context: `cdk deploy -c authMode=iam -c architecture=arm64`
// (see docs/deploy.md for the list); the credentials are CloudFormation parameters:
// `cdk deploy --parameters RootAccessKeyId=... --parameters RootSecretAccessKey=...`.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CofferStack } from '../lib/coffer-stack';

const app = new App();
const ctx = (name: string): string | undefined => {
  const v = app.node.tryGetContext(name);
  return v === undefined || v === '' ? undefined : String(v);
};
const list = (name: string): string[] | undefined => ctx(name)?.split(',').map((s) => s.trim()).filter(Boolean);
const num = (name: string): number | undefined => (ctx(name) === undefined ? undefined : Number(ctx(name)));

const authMode = ctx('authMode') ?? 'sigv4';
if (authMode !== 'sigv4' && authMode !== 'iam') throw new Error(`authMode must be sigv4 or iam, not ${authMode}`);
const architecture = ctx('architecture') ?? 'x86_64';
if (architecture !== 'x86_64' && architecture !== 'arm64') throw new Error(`architecture must be x86_64 or arm64, not ${architecture}`);

new CofferStack(app, ctx('stackName') ?? 'coffer', {
  description: 'Coffer: a self-hosted, wire-compatible AWS Secrets Manager (CDK; same stack as infra/sam)',
  authMode,
  architecture,
  existingKeyArn: ctx('existingKeyArn'),
  // COFFER_LAMBDA_ASSETS: a directory of <binary>/bootstrap.zip other than target/lambda
  // (tests/infra/run.sh points it at placeholder zips when the real ones are not built).
  assetDir: ctx('assetDir') ?? process.env.COFFER_LAMBDA_ASSETS,
  logRetentionDays: num('logRetentionDays'),
  auditLogRetentionDays: num('auditLogRetentionDays'),
  apiThrottleRateLimit: num('apiThrottleRateLimit'),
  apiThrottleBurstLimit: num('apiThrottleBurstLimit'),
  tableDeletionProtection: ctx('tableDeletionProtection') !== 'false',
  rotatorSubnetIds: list('rotatorSubnetIds'),
  rotatorSecurityGroupIds: list('rotatorSecurityGroupIds'),
  rotatorPasswordLength: num('rotatorPasswordLength'),
  rotatorExcludeCharacters: ctx('rotatorExcludeCharacters'),
  extraRotationFunctionArns: list('extraRotationFunctionArns'),
  alarmTopicArn: ctx('alarmTopicArn'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});

// cdk-nag's AwsSolutions pack: any unsuppressed finding fails the synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));

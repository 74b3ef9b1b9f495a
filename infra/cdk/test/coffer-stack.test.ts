// Assertion tests of the security-relevant properties of the CDK stack (run by tests/infra/run.sh:
// `npx tsc && node --test dist/test/coffer-stack.test.js`). Placeholder zips stand in for the
// bootstraps, so the tests need no Rust build.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { BINARIES, CofferStack, CofferStackProps } from '../lib/coffer-stack';

// An empty zip archive (end-of-central-directory record only) per function.
const assetDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-cdk-test-'));
for (const binary of Object.values(BINARIES)) {
  fs.mkdirSync(path.join(assetDir, binary));
  fs.writeFileSync(path.join(assetDir, binary, 'bootstrap.zip'), Buffer.from([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]));
}

function build(props: CofferStackProps = {}): { stack: CofferStack; template: Template } {
  const app = new App();
  const stack = new CofferStack(app, 'coffer', { assetDir, ...props });
  return { stack, template: Template.fromStack(stack) };
}

const sigv4 = build();
const iamMode = build({
  authMode: 'iam',
  architecture: 'arm64',
  existingKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  rotatorSubnetIds: ['subnet-0123456789abcdef0'],
  rotatorSecurityGroupIds: ['sg-0123456789abcdef0'],
  extraRotationFunctionArns: ['arn:aws:lambda:us-east-1:111122223333:function:my-rotator'],
});

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown; Principal?: unknown; Sid?: string };
const asList = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

function logicalIdOf(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  assert.equal(ids.length, 1, `one ${type} named ${prefix}*: ${ids}`);
  return ids[0];
}

/** Every statement that applies to the role: its inline policies and the AWS::IAM::Policy resources attached to it. */
function statementsOf(template: Template, roleId: string): Statement[] {
  const role = template.toJSON().Resources[roleId];
  const out: Statement[] = [];
  for (const p of role.Properties.Policies ?? []) out.push(...p.PolicyDocument.Statement);
  for (const p of Object.values(template.findResources('AWS::IAM::Policy')) as any[]) {
    if (p.Properties.Roles.some((r: any) => r.Ref === roleId)) out.push(...p.Properties.PolicyDocument.Statement);
  }
  return out;
}

const ROLES = ['ApiRole', 'RotationRole', 'SchedulerRole', 'RotatorPostgresRole', 'RotatorMysqlRole'];

test('key: rotation on, retained, alias/coffer', () => {
  sigv4.template.hasResource('AWS::KMS::Key', {
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
    Properties: { EnableKeyRotation: true, PendingWindowInDays: 30 },
  });
  sigv4.template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/coffer' });
});

test('key policy: the account administers but cannot use the key; only the three Coffer roles use it', () => {
  const key = Object.values(sigv4.template.findResources('AWS::KMS::Key'))[0] as any;
  const statements: Statement[] = key.Properties.KeyPolicy.Statement;
  assert.deepEqual(statements.map((s) => s.Sid), ['AccountAdministersTheKey', 'OnlyCofferRolesUseTheKey']);
  const [admin, use] = statements;
  const adminActions = asList(admin.Action);
  for (const forbidden of ['kms:*', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKey*', 'kms:ReEncrypt*', 'kms:CreateGrant', 'kms:Create*']) {
    assert.ok(!adminActions.includes(forbidden), `account statement must not allow ${forbidden}`);
  }
  assert.ok(adminActions.every((a) => !/^kms:(Decrypt|Encrypt|GenerateDataKey|ReEncrypt|CreateGrant)/.test(a)));
  assert.deepEqual(JSON.stringify(admin.Principal).includes(':root'), true);
  assert.deepEqual(asList(use.Action).sort(), ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey']);
  const principals = asList((use.Principal as any).AWS).map((p: any) => p['Fn::GetAtt'][0]).sort();
  assert.deepEqual(principals, [
    logicalIdOf(sigv4.template, 'AWS::IAM::Role', 'ApiRole'),
    logicalIdOf(sigv4.template, 'AWS::IAM::Role', 'RotationRole'),
    logicalIdOf(sigv4.template, 'AWS::IAM::Role', 'SchedulerRole'),
  ].sort());
});

test('bring your own key: no master key or alias is created (only the audit digest key) and the roles use the given key', () => {
  iamMode.template.resourceCountIs('AWS::KMS::Key', 1);
  iamMode.template.hasResourceProperties('AWS::KMS::Key', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
  iamMode.template.resourceCountIs('AWS::KMS::Alias', 0);
  iamMode.template.hasResourceProperties('AWS::IAM::Policy', {
    PolicyName: 'coffer-key-use',
    PolicyDocument: { Statement: [{ Action: ['kms:GenerateDataKey', 'kms:Decrypt', 'kms:DescribeKey'], Resource: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' }] },
  });
});

for (const [mode, built] of [['sigv4', sigv4], ['iam', iamMode]] as const) {
  test(`${mode}: no role has a wildcard action, and Resource * only for cloudwatch:PutMetricData (namespace Coffer) or VPC ENIs`, () => {
    for (const prefix of ROLES) {
      const roleId = logicalIdOf(built.template, 'AWS::IAM::Role', prefix);
      const statements = statementsOf(built.template, roleId);
      assert.ok(statements.length > 0);
      for (const s of statements) {
        const actions = asList(s.Action);
        for (const a of actions) assert.ok(!a.includes('*'), `${prefix}: wildcard action ${a}`);
        if (asList(s.Resource).includes('*')) {
          assert.deepEqual(actions, ['cloudwatch:PutMetricData'], `${prefix}: Resource * for ${actions}`);
          assert.deepEqual(s.Condition, { StringEquals: { 'cloudwatch:namespace': 'Coffer' } });
        }
      }
      const managed = built.template.toJSON().Resources[roleId].Properties.ManagedPolicyArns ?? [];
      const expectedManaged = mode === 'iam' && prefix.startsWith('Rotator') ? 1 : 0;
      assert.equal(managed.length, expectedManaged, `${prefix}: managed policies ${JSON.stringify(managed)}`);
      if (expectedManaged) assert.match(JSON.stringify(managed), /service-role\/AWSLambdaVPCAccessExecutionRole/);
    }
  });
}

test('api role: exactly the table actions, on the table and its indexes; key use on the key; invoke on rotation only', () => {
  const t = sigv4.template;
  const roleId = logicalIdOf(t, 'AWS::IAM::Role', 'ApiRole');
  const statements = statementsOf(t, roleId);
  const ddb = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('dynamodb:')));
  assert.equal(ddb.length, 1);
  assert.deepEqual(asList(ddb[0].Action).sort(), ['dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem',
    'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
  const tableId = logicalIdOf(t, 'AWS::DynamoDB::Table', 'SecretsTable');
  assert.deepEqual(ddb[0].Resource, [
    { 'Fn::GetAtt': [tableId, 'Arn'] },
    { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, '/index/*']] },
  ]);
  const kmsStatements = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('kms:')));
  assert.deepEqual(kmsStatements.map((s) => [asList(s.Action).sort(), s.Resource]), [
    [['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'], { 'Fn::GetAtt': [logicalIdOf(t, 'AWS::KMS::Key', 'CofferKey'), 'Arn'] }],
    [['kms:DescribeKey', 'kms:GenerateMac'], { 'Fn::GetAtt': [logicalIdOf(t, 'AWS::KMS::Key', 'AuditDigestKey'), 'Arn'] }],
  ]);
  const invoke = statements.filter((s) => asList(s.Action).includes('lambda:InvokeFunction'));
  assert.deepEqual(invoke.map((s) => s.Resource), [{ 'Fn::GetAtt': [logicalIdOf(t, 'AWS::Lambda::Function', 'RotationFunction'), 'Arn'] }]);
  const logs = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('logs:')));
  assert.deepEqual(logs.map((s) => JSON.stringify(s.Resource)).sort(), [
    JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(t, 'AWS::Logs::LogGroup', 'ApiFunctionLogGroup'), 'Arn'] }),
    JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(t, 'AWS::Logs::LogGroup', 'AuditLogGroup'), 'Arn'] }),
  ].sort());
});

test('rotation role invokes the two rotators and the extra rotation functions only', () => {
  const t = iamMode.template;
  const invoke = statementsOf(t, logicalIdOf(t, 'AWS::IAM::Role', 'RotationRole'))
    .filter((s) => asList(s.Action).includes('lambda:InvokeFunction'))
    .flatMap((s) => asList(s.Resource));
  assert.deepEqual(invoke, [
    { 'Fn::GetAtt': [logicalIdOf(t, 'AWS::Lambda::Function', 'RotatorPostgresFunction'), 'Arn'] },
    { 'Fn::GetAtt': [logicalIdOf(t, 'AWS::Lambda::Function', 'RotatorMysqlFunction'), 'Arn'] },
    'arn:aws:lambda:us-east-1:111122223333:function:my-rotator',
  ]);
});

test('iam mode: rotators may call POST / of the $default stage', () => {
  iamMode.template.hasResourceProperties('AWS::IAM::Policy', {
    PolicyName: 'call-coffer-api',
    PolicyDocument: { Statement: [{ Action: 'execute-api:Invoke', Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/\\$default/POST/$')])] } }] },
  });
  sigv4.template.resourcePropertiesCountIs('AWS::IAM::Policy', { PolicyName: 'call-coffer-api' }, 0);
});

test('table: keys and indexes of schema.rs, on-demand, PITR, deletion protection, SSE, retained', () => {
  sigv4.template.hasResource('AWS::DynamoDB::Table', {
    DeletionPolicy: 'Retain',
    Properties: {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: [
        { IndexName: 'by_scope', KeySchema: [{ AttributeName: 'scope', KeyType: 'HASH' }, { AttributeName: 'sname', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['arn', 'rev', 'rec', 'recz', 'la', 'va'] } },
        { IndexName: 'by_rotation', KeySchema: [{ AttributeName: 'rot_pk', KeyType: 'HASH' }, { AttributeName: 'rot_at', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['arn'] } },
        { IndexName: 'by_purge', KeySchema: [{ AttributeName: 'del_pk', KeyType: 'HASH' }, { AttributeName: 'purge_at', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['arn'] } },
      ],
    },
  });
  const table = Object.values(sigv4.template.findResources('AWS::DynamoDB::Table'))[0] as any;
  const types = Object.fromEntries(table.Properties.AttributeDefinitions.map((a: any) => [a.AttributeName, a.AttributeType]));
  assert.deepEqual(types, { pk: 'S', sk: 'S', scope: 'S', sname: 'S', rot_pk: 'S', rot_at: 'N', del_pk: 'S', purge_at: 'N' });
});

test('API: POST / and GET /health to the api function, payload 2.0, access log, throttling', () => {
  const t = sigv4.template;
  t.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
  t.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
    IntegrationType: 'AWS_PROXY',
    PayloadFormatVersion: '2.0',
    IntegrationUri: { 'Fn::GetAtt': [logicalIdOf(t, 'AWS::Lambda::Function', 'ApiFunction'), 'Arn'] },
  });
  t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /', AuthorizationType: 'NONE' });
  t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /health', AuthorizationType: 'NONE' });
  iamMode.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /', AuthorizationType: 'AWS_IAM' });
  t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
    StageName: '$default',
    AccessLogSettings: {
      DestinationArn: { 'Fn::GetAtt': [logicalIdOf(t, 'AWS::Logs::LogGroup', 'ApiAccessLogGroup'), 'Arn'] },
      Format: Match.stringLikeRegexp('\\$context.requestId'),
    },
    DefaultRouteSettings: { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 },
  });
  t.hasResourceProperties('AWS::Lambda::Permission', { Principal: 'apigateway.amazonaws.com', Action: 'lambda:InvokeFunction' });
});

test('functions: provided.al2023, bootstrap, the architecture asked for, own log group; api environment', () => {
  for (const [built, arch] of [[sigv4, 'x86_64'], [iamMode, 'arm64']] as const) {
    const fns = built.template.findResources('AWS::Lambda::Function');
    assert.equal(Object.keys(fns).length, 5);
    for (const f of Object.values(fns) as any[]) {
      assert.equal(f.Properties.Runtime, 'provided.al2023');
      assert.equal(f.Properties.Handler, 'bootstrap');
      assert.deepEqual(f.Properties.Architectures, [arch]);
      assert.ok(f.Properties.LoggingConfig.LogGroup.Ref);
    }
  }
  const t = sigv4.template;
  t.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: {
      COFFER_TABLE: { Ref: logicalIdOf(t, 'AWS::DynamoDB::Table', 'SecretsTable') },
      COFFER_KMS_KEY: { 'Fn::GetAtt': [logicalIdOf(t, 'AWS::KMS::Key', 'CofferKey'), 'Arn'] },
      COFFER_ACCOUNT_ID: { Ref: 'AWS::AccountId' },
      COFFER_ROTATION_FUNCTION: { 'Fn::GetAtt': [logicalIdOf(t, 'AWS::Lambda::Function', 'RotationFunction'), 'Arn'] },
      COFFER_AUTH_MODE: 'sigv4',
      COFFER_ROOT_ACCESS_KEY_ID: { 'Fn::If': ['HasRootKey', { Ref: 'RootAccessKeyId' }, { Ref: 'AWS::NoValue' }] },
      COFFER_ROOT_SECRET_ACCESS_KEY: { 'Fn::If': ['HasRootKey', { Ref: 'RootSecretAccessKey' }, { Ref: 'AWS::NoValue' }] },
      COFFER_AUDIT_LOG_GROUP: { Ref: logicalIdOf(t, 'AWS::Logs::LogGroup', 'AuditLogGroup') },
      COFFER_AUDIT_EVENT_BUS: Match.anyValue(),
    } },
  });
  const params = t.toJSON().Parameters;
  for (const p of ['RootAccessKeyId', 'RootSecretAccessKey', 'RotatorAccessKeyId', 'RotatorSecretAccessKey']) {
    assert.equal(params[p].NoEcho, true, `${p} is NoEcho`);
  }
  assert.equal(iamMode.template.toJSON().Parameters?.RootAccessKeyId, undefined, 'no root key parameter in iam mode');
  iamMode.template.hasResourceProperties('AWS::Lambda::Function', {
    VpcConfig: { SubnetIds: ['subnet-0123456789abcdef0'], SecurityGroupIds: ['sg-0123456789abcdef0'] },
    Environment: { Variables: Match.objectLike({ PASSWORD_LENGTH: '32', SECRETS_MANAGER_ENDPOINT: Match.anyValue() }) },
  });
});

test('schedule: rate(5 minutes) to the scheduler', () => {
  sigv4.template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'rate(5 minutes)',
    Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalIdOf(sigv4.template, 'AWS::Lambda::Function', 'SchedulerFunction'), 'Arn'] } })],
  });
});

test('log groups: seven, all with retention; the audit log is kept a year and retained', () => {
  const groups = sigv4.template.findResources('AWS::Logs::LogGroup');
  assert.equal(Object.keys(groups).length, 7);
  for (const g of Object.values(groups) as any[]) assert.ok(g.Properties.RetentionInDays > 0);
  sigv4.template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain', Properties: { RetentionInDays: 365 } });
});

test('alarms: rotation failures, overdue rotations, 5xx rate, throttles, scheduler errors', () => {
  const t = sigv4.template;
  t.resourceCountIs('AWS::CloudWatch::Alarm', 5);
  t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'Coffer', MetricName: 'RotationsFailed', Threshold: 1 });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'Coffer', MetricName: 'SecretsOverdueForRotation', Dimensions: [{ Name: 'Region', Value: { Ref: 'AWS::Region' } }],
  });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Metrics: Match.arrayWith([Match.objectLike({ Expression: '100 * FILL(errors, 0) / requests' }),
      Match.objectLike({ MetricStat: Match.objectLike({ Metric: Match.objectLike({ Namespace: 'AWS/ApiGateway', MetricName: '5xx' }) }) })]),
  });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Metrics: Match.arrayWith([Match.objectLike({ MetricStat: Match.objectLike({ Metric: Match.objectLike({ Namespace: 'AWS/Lambda', MetricName: 'Throttles' }) }) })]),
  });
  t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  const outputs = Object.keys(t.toJSON().Outputs);
  for (const o of ['ApiUrl', 'TableName', 'KeyArn', 'ApiFunctionArn', 'RotationFunctionArn', 'SchedulerFunctionArn', 'RotatorPostgresFunctionArn', 'RotatorMysqlFunctionArn']) {
    assert.ok(outputs.includes(o), `output ${o}`);
  }
});

test('every cdk-nag acknowledgement carries a reason, and they are the expected ones', () => {
  const found: string[] = [];
  const visit = (c: IConstruct) => {
    for (const entry of c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)) {
      // Recorded as { "<rule id>": "<reason>" }.
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        assert.ok(typeof reason === 'string' && reason.length >= 40, `reason of ${id}: ${reason}`);
        found.push(`${c.node.path} ${id}`);
      }
    }
    c.node.children.forEach(visit);
  };
  visit(sigv4.stack);
  const ids = found.map((f) => f.replace(/SecretsTable[0-9A-F]+/, 'SecretsTable'));
  assert.deepEqual(ids.sort(), [
    'coffer/ApiRole AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    'coffer/ApiRole AwsSolutions::AwsSolutions-IAM5[Resource::<SecretsTable.Arn>/index/*]',
    'coffer/ApiRoute AwsSolutions::AwsSolutions-APIG4',
    'coffer/HealthRoute AwsSolutions::AwsSolutions-APIG4',
    'coffer/RotationRole AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    'coffer/RotationRole AwsSolutions::AwsSolutions-IAM5[Resource::<SecretsTable.Arn>/index/*]',
    'coffer/SchedulerRole AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    'coffer/SchedulerRole AwsSolutions::AwsSolutions-IAM5[Resource::<SecretsTable.Arn>/index/*]',
  ].sort());
});

test('audit digest key: HMAC_256 for MACs; only the three Coffer roles may GenerateMac; they get its ARN', () => {
  const t = sigv4.template;
  const keyId = logicalIdOf(t, 'AWS::KMS::Key', 'AuditDigestKey');
  const key = t.toJSON().Resources[keyId].Properties;
  assert.equal(key.KeySpec, 'HMAC_256');
  assert.equal(key.KeyUsage, 'GENERATE_VERIFY_MAC');
  const signers = key.KeyPolicy.Statement.filter((s: any) => asList(s.Action).includes('kms:GenerateMac'));
  assert.equal(signers.length, 1);
  assert.deepEqual(signers[0].Principal.AWS.map((p: any) => p['Fn::GetAtt'][0]).sort(),
    ['ApiRole', 'RotationRole', 'SchedulerRole'].map((r) => logicalIdOf(t, 'AWS::IAM::Role', r)).sort());
  for (const fnName of ['ApiFunction', 'RotationFunction', 'SchedulerFunction']) {
    const fnId = logicalIdOf(t, 'AWS::Lambda::Function', fnName);
    const env = t.toJSON().Resources[fnId].Properties.Environment.Variables;
    assert.deepEqual(env.COFFER_AUDIT_DIGEST_KEY_ID, { 'Fn::GetAtt': [keyId, 'Arn'] }, fnName);
  }
});

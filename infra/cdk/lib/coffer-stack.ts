// The Coffer stack in CDK v2: the same resources, roles and policies as infra/sam/template.yaml.
// Keep the two in step (tests/infra/run.sh checks both).
//
// Structural choices are construct props (from `-c key=value` context in bin/coffer.ts); the
// credentials are NoEcho CloudFormation parameters, as in the SAM template, so they never land in
// cdk.out or in the synthesized template.
import * as path from 'node:path';
import {
  Aws,
  CfnCondition,
  CfnOutput,
  CfnParameter,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  StackProps,
  Validations,
} from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';

export type AuthMode = 'sigv4' | 'iam';

export interface CofferStackProps extends StackProps {
  /** Lambda architecture; build the bootstraps for the same one. Default x86_64. */
  readonly architecture?: 'x86_64' | 'arm64';
  /** sigv4 (default): Coffer's own keys; iam: API Gateway IAM authorization on POST /. */
  readonly authMode?: AuthMode;
  /** Bring your own KMS key (ARN) instead of creating alias/coffer. */
  readonly existingKeyArn?: string;
  /** Where infra/package.sh left `<binary>/bootstrap.zip`. Default <repo>/target/lambda. */
  readonly assetDir?: string;
  readonly logRetentionDays?: logs.RetentionDays;
  readonly auditLogRetentionDays?: logs.RetentionDays;
  readonly apiThrottleRateLimit?: number;
  readonly apiThrottleBurstLimit?: number;
  /** DynamoDB deletion protection (default true; turn off before deleting the table). */
  readonly tableDeletionProtection?: boolean;
  /** Subnets (and security groups) of the rotator functions, where the databases are. */
  readonly rotatorSubnetIds?: string[];
  readonly rotatorSecurityGroupIds?: string[];
  readonly rotatorPasswordLength?: number;
  readonly rotatorExcludeCharacters?: string;
  /** Further rotation functions (yours) the rotation function may invoke. */
  readonly extraRotationFunctionArns?: string[];
  /** SNS topic for alarm notifications. */
  readonly alarmTopicArn?: string;
}

/** The binaries (Cargo packages) of the functions, as infra/package.sh names their zips. */
export const BINARIES = {
  api: 'coffer-api',
  rotation: 'coffer-rotation',
  scheduler: 'coffer-scheduler',
  rotatorPostgres: 'coffer-rotator-postgres',
  rotatorMysql: 'coffer-rotator-mysql',
} as const;

const LAMBDA_PRINCIPAL = new iam.ServicePrincipal('lambda.amazonaws.com');

export class CofferStack extends Stack {
  public readonly table: dynamodb.Table;
  public readonly keyArn: string;
  public readonly apiUrl: string;
  public readonly functions: Record<keyof typeof BINARIES, lambda.Function>;

  constructor(scope: Construct, id: string, props: CofferStackProps = {}) {
    super(scope, id, props);
    const authMode = props.authMode ?? 'sigv4';
    const architecture = props.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
    const assetDir = props.assetDir ?? path.join(__dirname, '..', '..', '..', 'target', 'lambda');
    const retention = props.logRetentionDays ?? logs.RetentionDays.ONE_MONTH;
    const stackName = Stack.of(this).stackName;
    const eventBusArn = `arn:${Aws.PARTITION}:events:${Aws.REGION}:${Aws.ACCOUNT_ID}:event-bus/default`;

    // ---- Credentials (sigv4 mode only): NoEcho parameters, used only when both halves are given.
    const secretPair = (idName: string, secretName: string, conditionName: string, what: string) => {
      const keyId = new CfnParameter(this, idName, { type: 'String', default: '', noEcho: true, description: `${what} access key id.` });
      const secret = new CfnParameter(this, secretName, { type: 'String', default: '', noEcho: true, description: `${what} secret access key.` });
      const condition = new CfnCondition(this, conditionName, {
        expression: Fn.conditionAnd(
          Fn.conditionNot(Fn.conditionEquals(keyId.valueAsString, '')),
          Fn.conditionNot(Fn.conditionEquals(secret.valueAsString, '')),
        ),
      });
      const ifSet = (p: CfnParameter) => Fn.conditionIf(condition.logicalId, p.valueAsString, Aws.NO_VALUE).toString();
      return { keyId: ifSet(keyId), secret: ifSet(secret) };
    };
    const rootKey = authMode === 'sigv4'
      ? secretPair('RootAccessKeyId', 'RootSecretAccessKey', 'HasRootKey', 'Coffer root') : undefined;
    const rotatorKey = authMode === 'sigv4'
      ? secretPair('RotatorAccessKeyId', 'RotatorSecretAccessKey', 'HasRotatorKey', 'Coffer key the rotators sign with:')
      : undefined;

    // ---- Logs
    const logGroup = (id: string, name: string, days: logs.RetentionDays, keep = false) =>
      new logs.LogGroup(this, id, {
        logGroupName: `/coffer/${stackName}/${name}`,
        retention: days,
        removalPolicy: keep ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
    const auditLogGroup = logGroup('AuditLogGroup', 'audit', props.auditLogRetentionDays ?? logs.RetentionDays.ONE_YEAR, true);
    const accessLogGroup = logGroup('ApiAccessLogGroup', 'api-access', retention);
    const fnLogs = {
      api: logGroup('ApiFunctionLogGroup', 'functions/api', retention),
      rotation: logGroup('RotationFunctionLogGroup', 'functions/rotation', retention),
      scheduler: logGroup('SchedulerFunctionLogGroup', 'functions/scheduler', retention),
      rotatorPostgres: logGroup('RotatorPostgresFunctionLogGroup', 'functions/rotator-postgres', retention),
      rotatorMysql: logGroup('RotatorMysqlFunctionLogGroup', 'functions/rotator-mysql', retention),
    };

    // ---- State: one table, keys and indexes as shared/aws/src/dynamodb/schema.rs.
    const S = dynamodb.AttributeType.STRING;
    const N = dynamodb.AttributeType.NUMBER;
    this.table = new dynamodb.Table(this, 'SecretsTable', {
      partitionKey: { name: 'pk', type: S },
      sortKey: { name: 'sk', type: S },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.tableDeletionProtection ?? true,
      // AWS managed key: values are envelope-encrypted under the Coffer key before they reach
      // the table; see the SAM template for why the Coffer key is not used here.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'by_scope',
      partitionKey: { name: 'scope', type: S },
      sortKey: { name: 'sname', type: S },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: ['arn', 'rev', 'rec', 'recz', 'la', 'va'],
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'by_rotation',
      partitionKey: { name: 'rot_pk', type: S },
      sortKey: { name: 'rot_at', type: N },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: ['arn'],
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'by_purge',
      partitionKey: { name: 'del_pk', type: S },
      sortKey: { name: 'purge_at', type: N },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: ['arn'],
    });
    const tableArn = this.table.tableArn;
    const indexArns = `${tableArn}/index/*`;

    // ---- Roles: one per function; logging only to the function's own log group.
    const role = (id: string, description: string, logGroupOf: logs.LogGroup, statements: iam.PolicyStatement[]) =>
      new iam.Role(this, id, {
        assumedBy: LAMBDA_PRINCIPAL,
        description,
        inlinePolicies: {
          logs: new iam.PolicyDocument({
            statements: [new iam.PolicyStatement({
              actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              resources: [logGroupOf.logGroupArn],
            })],
          }),
          ...(statements.length > 0 ? { service: new iam.PolicyDocument({ statements }) } : {}),
        },
      });
    const itemActions = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem',
      'dynamodb:Query', 'dynamodb:ConditionCheckItem'];
    // TransactWriteItems has no IAM action: each action in it is authorized as its own kind.
    const auditStatements = () => [
      new iam.PolicyStatement({
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [auditLogGroup.logGroupArn],
      }),
      new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [eventBusArn] }),
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'Coffer' } },
      }),
    ];
    const apiRole = role('ApiRole', 'Coffer api function', fnLogs.api, [
      new iam.PolicyStatement({ actions: itemActions, resources: [tableArn, indexArns] }),
      ...auditStatements(),
    ]);
    const rotationRole = role('RotationRole', 'Coffer rotation function', fnLogs.rotation, [
      new iam.PolicyStatement({ actions: itemActions, resources: [tableArn, indexArns] }),
      ...auditStatements(),
    ]);
    const schedulerRole = role('SchedulerRole', 'Coffer scheduler function', fnLogs.scheduler, [
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query',
          'dynamodb:ConditionCheckItem'],
        resources: [tableArn],
      }),
      new iam.PolicyStatement({ actions: ['dynamodb:Query', 'dynamodb:Scan'], resources: [indexArns] }),
      ...auditStatements(),
    ]);
    const inVpc = (props.rotatorSubnetIds ?? []).length > 0;
    const vpcManaged = inVpc
      ? [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole')]
      : [];
    const rotatorPostgresRole = role('RotatorPostgresRole', 'Coffer PostgreSQL rotator', fnLogs.rotatorPostgres, []);
    const rotatorMysqlRole = role('RotatorMysqlRole', 'Coffer MySQL/MariaDB rotator', fnLogs.rotatorMysql, []);
    for (const r of [rotatorPostgresRole, rotatorMysqlRole]) vpcManaged.forEach((m) => r.addManagedPolicy(m));

    // ---- Encryption: the customer managed key (or yours).
    const keyUsers = [apiRole, rotationRole, schedulerRole];
    const keyUse = ['kms:GenerateDataKey', 'kms:Decrypt', 'kms:DescribeKey'];
    // What the account (through IAM) may do with Coffer's keys: administer them, not use them.
    const keyAdministration = ['kms:CreateAlias', 'kms:DeleteAlias', 'kms:UpdateAlias', 'kms:Describe*',
      'kms:List*', 'kms:Get*', 'kms:Put*', 'kms:Update*', 'kms:Enable*', 'kms:Disable*', 'kms:RevokeGrant',
      'kms:RetireGrant', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion',
      'kms:CancelKeyDeletion'];
    // A key policy: the account administers the key (through IAM) but cannot use it beyond
    // `accountExtra`; only Coffer's roles use it, with `userActions`.
    const keyPolicy = (accountExtra: string[], userSid: string, userActions: string[]) => new iam.PolicyDocument({
      statements: [
        new iam.PolicyStatement({
          sid: 'AccountAdministersTheKey',
          principals: [new iam.AccountRootPrincipal()],
          actions: [...keyAdministration, ...accountExtra],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          sid: userSid,
          principals: keyUsers.map((r) => new iam.ArnPrincipal(r.roleArn)),
          actions: userActions,
          resources: ['*'],
        }),
      ],
    });
    let key: kms.IKey;
    if (props.existingKeyArn) {
      key = kms.Key.fromKeyArn(this, 'ExistingKey', props.existingKeyArn);
    } else {
      const created = new kms.Key(this, 'CofferKey', {
        description: 'Coffer master key (envelope encryption of secret values)',
        enableKeyRotation: true,
        pendingWindow: Duration.days(30),
        removalPolicy: RemovalPolicy.RETAIN,
        policy: keyPolicy(['kms:RotateKeyOnDemand'], 'OnlyCofferRolesUseTheKey', keyUse),
      });
      new kms.Alias(this, 'CofferKeyAlias', { aliasName: 'alias/coffer', targetKey: created });
      key = created;
    }
    this.keyArn = key.keyArn;
    // A policy of its own: the key policy names these roles.
    new iam.Policy(this, 'CofferKeyUsePolicy', {
      policyName: 'coffer-key-use',
      roles: keyUsers,
      statements: [new iam.PolicyStatement({ actions: keyUse, resources: [this.keyArn] })],
    });

    // ---- Audit digests: an HMAC key that signs the head of every CloudWatch Logs audit stream
    // (KMS GenerateMac, docs/audit.md). Only Coffer's roles sign; the account may verify
    // (VerifyMac through IAM: `coffer audit verify <log group>`), which cannot forge a digest.
    const digestKey = new kms.Key(this, 'AuditDigestKey', {
      description: "Coffer audit digest key (HMAC of each audit log stream's head)",
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
      policy: keyPolicy(['kms:VerifyMac'], 'OnlyCofferRolesSignDigests', ['kms:GenerateMac', 'kms:DescribeKey']),
    });
    new iam.Policy(this, 'AuditDigestKeyUsePolicy', {
      policyName: 'coffer-audit-digest-key-use',
      roles: keyUsers,
      statements: [new iam.PolicyStatement({ actions: ['kms:GenerateMac', 'kms:DescribeKey'], resources: [digestKey.keyArn] })],
    });

    // ---- API (created before the functions that need its URL).
    const httpApi = new apigwv2.CfnApi(this, 'CofferHttpApi', {
      name: `${stackName}-coffer`,
      description: 'Coffer (AWS Secrets Manager wire protocol)',
      protocolType: 'HTTP',
    });
    this.apiUrl = `https://${httpApi.ref}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}/`;

    // ---- Functions
    const fn = (id: keyof typeof BINARIES, logicalId: string, description: string, fnRole: iam.Role,
      timeout: Duration, environment: Record<string, string>) =>
      new lambda.Function(this, logicalId, {
        description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        handler: 'bootstrap',
        architecture,
        code: lambda.Code.fromAsset(path.join(assetDir, BINARIES[id], 'bootstrap.zip')),
        role: fnRole,
        memorySize: 256,
        timeout,
        logGroup: fnLogs[id],
        loggingFormat: lambda.LoggingFormat.TEXT,
        environment,
      });
    const audit = {
      COFFER_AUDIT_LOG_GROUP: auditLogGroup.logGroupName,
      COFFER_AUDIT_EVENT_BUS: eventBusArn,
      COFFER_AUDIT_DIGEST_KEY_ID: digestKey.keyArn,
    };
    const base = { COFFER_TABLE: this.table.tableName, COFFER_KMS_KEY: this.keyArn, COFFER_ACCOUNT_ID: Aws.ACCOUNT_ID };
    const rotation = fn('rotation', 'RotationFunction',
      'Coffer rotation runner (createSecret, setSecret, testSecret, finishSecret)', rotationRole,
      Duration.seconds(300), { ...base, ...audit });
    const api = fn('api', 'ApiFunction', 'Coffer API (all Secrets Manager operations behind API Gateway)',
      apiRole, Duration.seconds(15), {
        ...base,
        COFFER_ROTATION_FUNCTION: rotation.functionArn,
        COFFER_AUTH_MODE: authMode,
        ...(rootKey ? { COFFER_ROOT_ACCESS_KEY_ID: rootKey.keyId, COFFER_ROOT_SECRET_ACCESS_KEY: rootKey.secret } : {}),
        ...audit,
      });
    const scheduler = fn('scheduler', 'SchedulerFunction',
      'Coffer scheduler (due rotations, purge of expired deletions, gauges)', schedulerRole,
      Duration.seconds(120), { ...base, COFFER_ROTATION_FUNCTION: rotation.functionArn, ...audit });
    const rotatorEnv = {
      SECRETS_MANAGER_ENDPOINT: this.apiUrl,
      EXCLUDE_CHARACTERS: props.rotatorExcludeCharacters ?? '/@"\'\\',
      PASSWORD_LENGTH: String(props.rotatorPasswordLength ?? 32),
      COFFER_AUTH_MODE: authMode,
      ...(rotatorKey ? { COFFER_ACCESS_KEY_ID: rotatorKey.keyId, COFFER_SECRET_ACCESS_KEY: rotatorKey.secret } : {}),
    };
    const rotatorPostgres = fn('rotatorPostgres', 'RotatorPostgresFunction',
      'Coffer rotation function for PostgreSQL (single-user strategy)', rotatorPostgresRole,
      Duration.seconds(60), rotatorEnv);
    const rotatorMysql = fn('rotatorMysql', 'RotatorMysqlFunction',
      'Coffer rotation function for MySQL/MariaDB (single-user strategy)', rotatorMysqlRole,
      Duration.seconds(60), rotatorEnv);
    if (inVpc) {
      for (const f of [rotatorPostgres, rotatorMysql]) {
        (f.node.defaultChild as lambda.CfnFunction).vpcConfig = {
          subnetIds: props.rotatorSubnetIds,
          securityGroupIds: props.rotatorSecurityGroupIds ?? [],
        };
      }
    }
    this.functions = { api, rotation, scheduler, rotatorPostgres, rotatorMysql };

    // ---- Who invokes whom (separate policies, as in the SAM template).
    new iam.Policy(this, 'InvokeRotationPolicy', {
      policyName: 'invoke-rotation',
      roles: [apiRole, schedulerRole],
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [rotation.functionArn] })],
    });
    new iam.Policy(this, 'RotationInvokeRotatorsPolicy', {
      policyName: 'invoke-rotators',
      roles: [rotationRole],
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [rotatorPostgres.functionArn, rotatorMysql.functionArn],
        }),
        ...((props.extraRotationFunctionArns ?? []).length > 0 ? [new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: props.extraRotationFunctionArns,
        })] : []),
      ],
    });
    if (authMode === 'iam') {
      new iam.Policy(this, 'RotatorsCallApiPolicy', {
        policyName: 'call-coffer-api',
        roles: [rotatorPostgresRole, rotatorMysqlRole],
        statements: [new iam.PolicyStatement({
          actions: ['execute-api:Invoke'],
          resources: [`arn:${Aws.PARTITION}:execute-api:${Aws.REGION}:${Aws.ACCOUNT_ID}:${httpApi.ref}/$default/POST/`],
        })],
      });
    }

    // ---- API routes, stage, permission.
    const integration = new apigwv2.CfnIntegration(this, 'ApiIntegration', {
      apiId: httpApi.ref,
      integrationType: 'AWS_PROXY',
      integrationUri: api.functionArn,
      payloadFormatVersion: '2.0',
      timeoutInMillis: 15000,
    });
    const apiRoute = new apigwv2.CfnRoute(this, 'ApiRoute', {
      apiId: httpApi.ref,
      routeKey: 'POST /',
      authorizationType: authMode === 'iam' ? 'AWS_IAM' : 'NONE',
      target: `integrations/${integration.ref}`,
    });
    const healthRoute = new apigwv2.CfnRoute(this, 'HealthRoute', {
      apiId: httpApi.ref,
      routeKey: 'GET /health',
      authorizationType: 'NONE',
      target: `integrations/${integration.ref}`,
    });
    new apigwv2.CfnStage(this, 'ApiDefaultStage', {
      apiId: httpApi.ref,
      stageName: '$default',
      autoDeploy: true,
      defaultRouteSettings: {
        throttlingRateLimit: props.apiThrottleRateLimit ?? 200,
        throttlingBurstLimit: props.apiThrottleBurstLimit ?? 400,
      },
      accessLogSettings: {
        destinationArn: accessLogGroup.logGroupArn,
        format: JSON.stringify({
          requestId: '$context.requestId', ip: '$context.identity.sourceIp', caller: '$context.identity.userArn',
          requestTime: '$context.requestTime', routeKey: '$context.routeKey', status: '$context.status',
          responseLength: '$context.responseLength', latency: '$context.responseLatency',
          integrationLatency: '$context.integrationLatency', integrationError: '$context.integrationErrorMessage',
        }),
      },
    });
    api.addPermission('ApiInvokePermission', {
      principal: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      sourceArn: `arn:${Aws.PARTITION}:execute-api:${Aws.REGION}:${Aws.ACCOUNT_ID}:${httpApi.ref}/*`,
    });

    // ---- Schedule
    new events.Rule(this, 'SchedulerSchedule', {
      description: 'Coffer scheduler tick',
      schedule: events.Schedule.rate(Duration.minutes(5)),
      targets: [new targets.LambdaFunction(scheduler, { retryAttempts: 0 })],
    });

    // ---- Alarms and dashboard (Coffer's metrics: docs/audit.md).
    const period = Duration.minutes(5);
    const fnMetric = (f: lambda.Function, name: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: name, dimensionsMap: { FunctionName: f.functionName }, statistic: 'Sum', period });
    const apiMetric = (name: string, statistic = 'Sum') =>
      new cloudwatch.Metric({ namespace: 'AWS/ApiGateway', metricName: name, dimensionsMap: { ApiId: httpApi.ref }, statistic, period });
    const coffer = (name: string, statistic = 'Sum', dimensionsMap?: Record<string, string>) =>
      new cloudwatch.Metric({ namespace: 'Coffer', metricName: name, statistic, period, dimensionsMap });
    const missing = cloudwatch.TreatMissingData.NOT_BREACHING;
    const alarms = [
      new cloudwatch.Alarm(this, 'RotationFailuresAlarm', {
        alarmDescription: 'A rotation failed (Coffer RotationsFailed >= 1 in 5 minutes)',
        metric: coffer('RotationsFailed'),
        threshold: 1, evaluationPeriods: 1, treatMissingData: missing,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      }),
      new cloudwatch.Alarm(this, 'OverdueRotationsAlarm', {
        alarmDescription: 'Secrets overdue for rotation for 15 minutes (Coffer SecretsOverdueForRotation > 0)',
        metric: coffer('SecretsOverdueForRotation', 'Maximum', { Region: Aws.REGION }),
        threshold: 0, evaluationPeriods: 3, treatMissingData: missing,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      }),
      new cloudwatch.Alarm(this, 'Api5xxRateAlarm', {
        alarmDescription: 'More than 1 % of API requests answered 5xx over 5 minutes (two periods in a row)',
        metric: new cloudwatch.MathExpression({
          label: '5xx rate (%)',
          expression: '100 * FILL(errors, 0) / requests',
          usingMetrics: { errors: apiMetric('5xx'), requests: apiMetric('Count') },
          period,
        }),
        threshold: 1, evaluationPeriods: 2, treatMissingData: missing,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      }),
      new cloudwatch.Alarm(this, 'ThrottlesAlarm', {
        alarmDescription: "Lambda throttled Coffer's api, rotation or scheduler function",
        metric: new cloudwatch.MathExpression({
          label: 'Throttles',
          expression: 'SUM([FILL(api, 0), FILL(rotation, 0), FILL(scheduler, 0)])',
          usingMetrics: { api: fnMetric(api, 'Throttles'), rotation: fnMetric(rotation, 'Throttles'), scheduler: fnMetric(scheduler, 'Throttles') },
          period,
        }),
        threshold: 1, evaluationPeriods: 1, treatMissingData: missing,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      }),
      new cloudwatch.Alarm(this, 'SchedulerErrorsAlarm', {
        alarmDescription: 'The scheduler failed twice in a row (rotations and purges are not running)',
        metric: fnMetric(scheduler, 'Errors'),
        threshold: 1, evaluationPeriods: 2, treatMissingData: missing,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      }),
    ];
    if (props.alarmTopicArn) {
      const topic = sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn);
      alarms.forEach((a) => a.addAlarmAction(new cwActions.SnsAction(topic)));
    }
    new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${stackName}-coffer`,
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'API requests and errors', left: [apiMetric('Count'), apiMetric('4xx'), apiMetric('5xx')] }),
          new cloudwatch.GraphWidget({ title: 'API latency (p50, p99)', left: [apiMetric('Latency', 'p50'), apiMetric('Latency', 'p99')] }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Rotations', left: [coffer('RotationsStarted'), coffer('RotationsSucceeded'), coffer('RotationsFailed')] }),
          new cloudwatch.GraphWidget({
            title: 'Secrets and overdue rotations',
            left: [coffer('ResourceCount', 'Maximum', { Region: Aws.REGION }), coffer('SecretsOverdueForRotation', 'Maximum', { Region: Aws.REGION })],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Lambda errors and throttles',
            left: [api, rotation, scheduler].flatMap((f) => [fnMetric(f, 'Errors'), fnMetric(f, 'Throttles')]),
          }),
          new cloudwatch.GraphWidget({
            title: 'DynamoDB consumed capacity, KMS calls',
            left: [
              this.table.metricConsumedReadCapacityUnits({ period }), this.table.metricConsumedWriteCapacityUnits({ period }),
              coffer('KmsCalls'), coffer('DataKeyCacheHits'), coffer('DataKeyCacheMisses'),
            ],
          }),
        ],
      ],
    });

    // ---- Outputs
    new CfnOutput(this, 'ApiUrl', { description: 'Coffer endpoint (aws secretsmanager --endpoint-url <ApiUrl>)', value: this.apiUrl });
    new CfnOutput(this, 'AuthMode', { description: 'How callers authenticate', value: authMode });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'KeyArn', { value: this.keyArn });
    new CfnOutput(this, 'AuditLogGroupName', { value: auditLogGroup.logGroupName });
    new CfnOutput(this, 'AuditDigestKeyArn', {
      description: 'KMS HMAC key that signs the audit digests (coffer audit verify --digest-key-id)',
      value: digestKey.keyArn,
    });
    new CfnOutput(this, 'ApiFunctionArn', { value: api.functionArn });
    new CfnOutput(this, 'RotationFunctionArn', { value: rotation.functionArn });
    new CfnOutput(this, 'SchedulerFunctionArn', { value: scheduler.functionArn });
    new CfnOutput(this, 'RotatorPostgresFunctionArn', { description: 'RotationLambdaARN for PostgreSQL secrets', value: rotatorPostgres.functionArn });
    new CfnOutput(this, 'RotatorMysqlFunctionArn', { description: 'RotationLambdaARN for MySQL/MariaDB secrets', value: rotatorMysql.functionArn });

    this.acknowledgeNagFindings({ apiRoute, healthRoute, authMode, inVpc,
      roles: [apiRole, rotationRole, schedulerRole, rotatorPostgresRole, rotatorMysqlRole] });
  }

  /**
   * Every cdk-nag acknowledgement of the stack, each with its reason, in one place (the test
   * `every cdk-nag acknowledgement carries a reason` lists them).
   */
  private acknowledgeNagFindings(s: { apiRoute: apigwv2.CfnRoute; healthRoute: apigwv2.CfnRoute; authMode: AuthMode;
    inVpc: boolean; roles: iam.Role[] }) {
    const ack = (scope: IConstruct, id: string, reason: string) =>
      Validations.of(scope).acknowledge({ id: `AwsSolutions::${id}`, reason });
    if (s.authMode === 'sigv4') {
      ack(s.apiRoute, 'AwsSolutions-APIG4',
        'sigv4 mode: Coffer itself authenticates every request (SigV4 against its own access keys, as Secrets '
        + 'Manager does), so stock AWS CLI/SDKs work with --endpoint-url; deploy with -c authMode=iam to have '
        + 'API Gateway authorize the route (AWS_IAM) instead.');
    }
    ack(s.healthRoute, 'AwsSolutions-APIG4',
      'GET /health is an unauthenticated liveness probe: it returns no data and reaches no secret.');
    const tableId = Stack.of(this).resolve((this.table.node.defaultChild as dynamodb.CfnTable).logicalId);
    // The rotators' roles name their resources exactly and need none of these.
    for (const role of s.roles.slice(0, 3)) {
      ack(role, `AwsSolutions-IAM5[Resource::<${tableId}.Arn>/index/*]`,
        "`<table ARN>/index/*` names the indexes of Coffer's one table (by_scope, by_rotation, by_purge), "
        + 'which the list, due-rotation and purge queries read.');
      ack(role, 'AwsSolutions-IAM5[Resource::*]',
        'cloudwatch:PutMetricData has no resource-level permissions; the statement is conditioned on '
        + 'cloudwatch:namespace = Coffer.');
    }
    if (s.inVpc) {
      for (const role of s.roles.slice(3)) {
        ack(role, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
          'AWSLambdaVPCAccessExecutionRole is the AWS-maintained set of ENI actions a VPC-attached function needs '
          + '(the rotators reach databases inside the VPC).');
      }
    }
  }
}

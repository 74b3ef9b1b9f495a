"""Deploy smoke test: the SAM-transformed template into moto's CloudFormation.

`python moto_deploy.py <moto-url> <transformed.json>`

Uploads a placeholder bootstrap zip to moto's S3 (moto's Lambda is control plane only: it stores
the code and runs nothing), creates the stack with its parameters filled, waits for
CREATE_COMPLETE and checks in the services themselves (not just the stack's resource list) that
the table with its keys and indexes, the key and alias/coffer, the five functions, the schedule
rule and its target, the log groups with retention, and the IAM roles exist as declared.

moto 5.2.5's CloudFormation has no support for AWS::ApiGatewayV2::* and AWS::CloudWatch::Alarm:
it logs "No Moto CloudFormation support for ..." and marks them created without creating
anything. So this script takes them OUT of the stack (MOTO_CANNOT_CREATE) and creates them
through the services' own APIs instead, which moto does implement: the HTTP API first (the stack
then gets its real id in place of `Ref CofferHttpApi`), the integration, routes and stage after
the stack (they need the api function's ARN), and the alarms with PutMetricAlarm. Their
properties come from the template through a small resolver of the intrinsics they use. See
docs/moto-limits.md ("CloudFormation deploy smoke test") for what moto accepts but ignores.
"""
import ast
import io
import json
import re
import sys
import time
import urllib.parse
import zipfile

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
STACK = "coffer-smoke"
BUCKET = "coffer-smoke-artifacts"
KEY = "bootstrap.zip"
PARAMETERS = {
    "AuthMode": "sigv4",
    "RootAccessKeyId": "AKIACOFFERSMOKE00001",
    "RootSecretAccessKey": "smoke-test-secret-not-a-real-key-000000",
    "Architecture": "arm64",
}

MOTO_CANNOT_CREATE = {
    "AWS::ApiGatewayV2::Api": "created with apigatewayv2 CreateApi before the stack",
    "AWS::ApiGatewayV2::Integration": "created with CreateIntegration after the stack",
    "AWS::ApiGatewayV2::Route": "created with CreateRoute after the stack",
    "AWS::ApiGatewayV2::Stage": "created with CreateStage after the stack",
    "AWS::CloudWatch::Alarm": "created with cloudwatch PutMetricAlarm after the stack",
}

NO_VALUE = object()


def client(service, url):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def check(cond, what):
    if not cond:
        sys.exit(f"moto_deploy: FAILED: {what}")
    print(f"  ok: {what}")


def placeholder_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, "#!/bin/sh\necho 'placeholder: build with infra/package.sh' >&2\nexit 1\n")
    return buf.getvalue()


class Resolver:
    """Resolves the intrinsics of the resources created outside the stack."""

    def __init__(self, template, params, refs, attrs):
        self.template, self.params, self.refs, self.attrs = template, params, refs, attrs
        self.conds = {}

    def condition(self, name):
        if name not in self.conds:
            self.conds[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self.conds[name]

    def ref(self, name):
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK,
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.template["Parameters"]:
            p = self.template["Parameters"][name]
            value = self.params.get(name, p.get("Default", ""))
            return value.split(",") if p["Type"] == "CommaDelimitedList" and value else value
        raise KeyError(f"unresolved Ref {name}")

    def resolve(self, v):
        if isinstance(v, list):
            return [x for x in (self.resolve(i) for i in v) if x is not NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, a), = v.items()
            if k == "Ref":
                return self.ref(a)
            if k == "Fn::GetAtt":
                return self.attrs[tuple(a) if isinstance(a, list) else tuple(a.split(".", 1))]
            if k == "Fn::If":
                return self.resolve(a[1] if self.condition(a[0]) else a[2])
            if k == "Fn::Equals":
                x, y = self.resolve(a)
                return x == y
            if k == "Fn::Not":
                return not self.resolve(a[0])
            if k == "Fn::And":
                return all(self.resolve(a))
            if k == "Fn::Or":
                return any(self.resolve(a))
            if k == "Condition":
                return self.condition(a)
            if k == "Fn::Join":
                return a[0].join(self.resolve(a[1]))
            if k == "Fn::Sub":
                text, extra = (a, {}) if isinstance(a, str) else (a[0], self.resolve(a[1]))

                def sub(m):
                    name = m.group(1)
                    if name in extra:
                        return str(extra[name])
                    if "." in name:
                        return str(self.attrs[tuple(name.split(".", 1))])
                    return str(self.ref(name))

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
        out = {}
        for k, x in v.items():
            r = self.resolve(x)
            if r is not NO_VALUE:
                out[k] = r
        return out


def main() -> None:
    url, template_path = sys.argv[1], sys.argv[2]
    template = json.load(open(template_path, encoding="utf-8"))
    res = template["Resources"]

    # Static checks of the transformed template for what moto accepts but ignores.
    table = res["SecretsTable"]["Properties"]
    check(table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, "template: table PITR on")
    check(table["SSESpecification"]["SSEEnabled"] is True, "template: table SSE on")
    check(table["DeletionProtectionEnabled"] == {"Ref": "TableDeletionProtection"}, "template: table deletion protection from its parameter")
    for name, r in res.items():
        if r["Type"] == "AWS::Lambda::Function":
            p = r["Properties"]
            check("LoggingConfig" in p and p["Architectures"] == [{"Ref": "Architecture"}], f"template: {name} logs to its own group, architecture from the parameter")

    outside = {n: r for n, r in res.items() if r["Type"] in MOTO_CANNOT_CREATE}
    for n in outside:
        del res[n]
    for t in sorted({r["Type"] for r in outside.values()}):
        print(f"moto_deploy: {t}: not in the moto stack, {MOTO_CANNOT_CREATE[t]}")

    apigw = client("apigatewayv2", url)
    api_props = outside["CofferHttpApi"]["Properties"]
    api_id = apigw.create_api(
        Name=api_props["Name"]["Fn::Sub"].replace("${AWS::StackName}", STACK),
        ProtocolType=api_props["ProtocolType"],
        Description=api_props["Description"],
    )["ApiId"]
    # The stack refers to the API by `Ref CofferHttpApi` (rotator endpoint, execute-api ARNs,
    # dashboard): point it at the API made above.
    text = json.dumps(template).replace('{"Ref": "CofferHttpApi"}', json.dumps(api_id))
    text = text.replace("${CofferHttpApi}", api_id)
    check("CofferHttpApi" not in text and all(f'"{n}"' not in text for n in outside), "no reference to a resource outside the stack is left")
    template = json.loads(text)
    for r in template["Resources"].values():
        if r["Type"] == "AWS::Lambda::Function":
            r["Properties"]["Code"] = {"S3Bucket": BUCKET, "S3Key": KEY}

    s3 = client("s3", url)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=placeholder_zip())

    cfn = client("cloudformation", url)
    started = time.monotonic()
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
    )
    status = ""
    for _ in range(1200):
        status = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            break
        time.sleep(0.1)
    if status != "CREATE_COMPLETE":
        for e in cfn.describe_stack_events(StackName=STACK)["StackEvents"][:30]:
            print(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
    check(status == "CREATE_COMPLETE", f"stack {STACK} CREATE_COMPLETE ({time.monotonic() - started:.1f} s)")

    # moto lists a resource whose condition is false as an empty entry.
    summaries = [
        x for x in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"] if x["LogicalResourceId"]
    ]
    phys = {x["LogicalResourceId"]: x["PhysicalResourceId"] for x in summaries}
    stack_types = {x["LogicalResourceId"]: x["ResourceType"] for x in summaries}
    conds = Resolver(template, PARAMETERS, {}, {})
    wanted = {n for n, x in template["Resources"].items() if "Condition" not in x or conds.condition(x["Condition"])}
    check(set(phys) == wanted, f"every resource of the stack whose condition holds is created ({len(phys)})")

    # Table: keys, indexes, billing (as shared/aws/src/dynamodb/schema.rs creates it).
    ddb = client("dynamodb", url)
    t = ddb.describe_table(TableName=phys["SecretsTable"])["Table"]
    check([(k["AttributeName"], k["KeyType"]) for k in t["KeySchema"]] == [("pk", "HASH"), ("sk", "RANGE")], "table key (pk HASH, sk RANGE)")
    check(t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST", "table on-demand")
    gsis = {g["IndexName"]: g for g in t["GlobalSecondaryIndexes"]}
    expected = {
        "by_scope": (["scope", "sname"], ["arn", "rev", "rec", "recz", "la", "va"]),
        "by_rotation": (["rot_pk", "rot_at"], ["arn"]),
        "by_purge": (["del_pk", "purge_at"], ["arn"]),
    }
    check(set(gsis) == set(expected), "table indexes by_scope, by_rotation, by_purge")
    for name, (keys, projected) in expected.items():
        g = gsis[name]
        check([k["AttributeName"] for k in g["KeySchema"]] == keys and g["Projection"]["ProjectionType"] == "INCLUDE" and sorted(g["Projection"]["NonKeyAttributes"]) == sorted(projected), f"index {name} keys {keys}, INCLUDE {projected}")
    attrs = {a["AttributeName"]: a["AttributeType"] for a in t["AttributeDefinitions"]}
    check(attrs == {"pk": "S", "sk": "S", "scope": "S", "sname": "S", "rot_pk": "S", "rot_at": "N", "del_pk": "S", "purge_at": "N"}, "table attribute types")

    # Key and alias.
    kms = client("kms", url)
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    check(aliases.get("alias/coffer") == phys["CofferKey"], "alias/coffer -> the stack's key")
    check(kms.get_key_rotation_status(KeyId=phys["CofferKey"])["KeyRotationEnabled"], "key rotation enabled")
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{phys['CofferKey']}"

    # Functions.
    lam = client("lambda", url)
    fns = {}
    for logical in ["ApiFunction", "RotationFunction", "SchedulerFunction", "RotatorPostgresFunction", "RotatorMysqlFunction"]:
        c = lam.get_function_configuration(FunctionName=phys[logical])
        fns[logical] = c
        check(c["Runtime"] == "provided.al2023" and c["Handler"] == "bootstrap", f"function {logical}: provided.al2023, handler bootstrap")
    env = fns["ApiFunction"]["Environment"]["Variables"]
    check(env["COFFER_TABLE"] == phys["SecretsTable"] and env["COFFER_KMS_KEY"] == key_arn and env["COFFER_ACCOUNT_ID"] == ACCOUNT, "api env: table, key ARN, account")
    check(env["COFFER_ROTATION_FUNCTION"] == fns["RotationFunction"]["FunctionArn"], "api env: rotation function ARN")
    check(env["COFFER_AUTH_MODE"] == "sigv4" and env["COFFER_ROOT_ACCESS_KEY_ID"] == PARAMETERS["RootAccessKeyId"], "api env: sigv4 mode with the root key")
    check(env["COFFER_AUDIT_LOG_GROUP"] == phys["AuditLogGroup"] and env["COFFER_AUDIT_EVENT_BUS"].endswith(":event-bus/default"), "api env: audit log group and bus")
    check(fns["SchedulerFunction"]["Environment"]["Variables"]["COFFER_ROTATION_FUNCTION"] == fns["RotationFunction"]["FunctionArn"], "scheduler env: rotation function ARN")
    rot_env = fns["RotatorPostgresFunction"]["Environment"]["Variables"]
    check(rot_env["SECRETS_MANAGER_ENDPOINT"] == f"https://{api_id}.execute-api.{REGION}.amazonaws.com/", "rotator env: SECRETS_MANAGER_ENDPOINT is the API URL")
    check(str(rot_env["PASSWORD_LENGTH"]) == "32" and rot_env["EXCLUDE_CHARACTERS"] == "/@\"'\\" and "COFFER_ACCESS_KEY_ID" not in rot_env, "rotator env: password length, no access key until one is given")

    # Schedule.
    events = client("events", url)
    rule = events.describe_rule(Name=phys["SchedulerFunctionEvery5Minutes"])
    check(rule["ScheduleExpression"] == "rate(5 minutes)" and rule["State"] == "ENABLED", "schedule rule rate(5 minutes), enabled")
    targets = events.list_targets_by_rule(Rule=phys["SchedulerFunctionEvery5Minutes"])["Targets"]
    check([x["Arn"] for x in targets] == [fns["SchedulerFunction"]["FunctionArn"]], "schedule targets the scheduler function")

    # Log groups.
    logs = client("logs", url)
    groups = {g["logGroupName"]: g.get("retentionInDays") for g in logs.describe_log_groups(logGroupNamePrefix=f"/coffer/{STACK}/")["logGroups"]}
    for g in ["api-access", "functions/api", "functions/rotation", "functions/scheduler", "functions/rotator-postgres", "functions/rotator-mysql"]:
        check(groups.get(f"/coffer/{STACK}/{g}") == 30, f"log group {g}, 30 days")
    check(groups.get(f"/coffer/{STACK}/audit") == 365, "audit log group, 365 days")

    # Roles: one per function, the api role's policies name their resources.
    iam = client("iam", url)
    role_names = {fns[f]["Role"].split("/")[-1] for f in fns}
    check(len(role_names) == 5, "five functions, five roles")
    api_role = phys["ApiRole"]
    statements = []
    for pname in iam.list_role_policies(RoleName=api_role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=api_role, PolicyName=pname)["PolicyDocument"]
        if isinstance(doc, str):  # moto keeps a CloudFormation-made inline policy as Python repr
            doc = urllib.parse.unquote(doc)
            doc = json.loads(doc) if doc.startswith('{"') else ast.literal_eval(doc)
        statements += doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    check(len(statements) >= 6, f"api role: {len(statements)} statements in its inline policies")
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        check(not any(a.endswith(":*") or a == "*" for a in actions), f"api role: no wildcard action in {actions}")
        if s["Resource"] == "*":
            check(actions == ["cloudwatch:PutMetricData"] and s["Condition"]["StringEquals"]["cloudwatch:namespace"] == "Coffer", "api role: Resource * only for PutMetricData in namespace Coffer")

    # What moto's CloudFormation cannot create, through the service APIs.
    r = Resolver(template, PARAMETERS, {**phys, "CofferHttpApi": api_id}, {
        (l, "Arn"): c["FunctionArn"] for l, c in fns.items()
    } | {(l, "Arn"): f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{phys[l]}:*" for l, ty in stack_types.items() if ty == "AWS::Logs::LogGroup"})
    integ = r.resolve(outside["ApiIntegration"]["Properties"])
    integ.pop("ApiId")
    integration_id = apigw.create_integration(ApiId=api_id, **integ)["IntegrationId"]
    r.refs["ApiIntegration"] = integration_id
    for route in ["ApiRoute", "HealthRoute"]:
        props = r.resolve(outside[route]["Properties"])
        props.pop("ApiId")
        apigw.create_route(ApiId=api_id, **props)
    stage = r.resolve(outside["ApiDefaultStage"]["Properties"])
    stage.pop("ApiId")
    stage["DefaultRouteSettings"] = {k: (float(v) if "Rate" in k else int(v)) if "Throttling" in k else v for k, v in stage["DefaultRouteSettings"].items()}
    apigw.create_stage(ApiId=api_id, **stage)
    routes = {x["RouteKey"]: x for x in apigw.get_routes(ApiId=api_id)["Items"]}
    check(set(routes) == {"POST /", "GET /health"} and all(x["Target"] == f"integrations/{integration_id}" for x in routes.values()), "HTTP API routes POST / and GET /health -> the api integration")
    check(routes["POST /"]["AuthorizationType"] == "NONE", "sigv4 mode: POST / without API Gateway authorization (Coffer verifies SigV4)")
    integration = apigw.get_integration(ApiId=api_id, IntegrationId=integration_id)
    check(integration["IntegrationUri"] == fns["ApiFunction"]["FunctionArn"] and integration["PayloadFormatVersion"] == "2.0", "integration: api function, payload 2.0")
    st = apigw.get_stage(ApiId=api_id, StageName="$default")
    check(st["AccessLogSettings"]["DestinationArn"].startswith(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/coffer/{STACK}/api-access"), "stage access log -> api-access log group")
    check(st["DefaultRouteSettings"]["ThrottlingRateLimit"] == 200 and st["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 400, "stage throttling 200/s, burst 400")

    cw = client("cloudwatch", url)
    alarms = [n for n, x in outside.items() if x["Type"] == "AWS::CloudWatch::Alarm"]
    for name in alarms:
        props = r.resolve(outside[name]["Properties"])
        cw.put_metric_alarm(AlarmName=f"{STACK}-{name}", **props)
    described = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=f"{STACK}-")["MetricAlarms"]}
    check(len(described) == len(alarms) == 5, f"alarms created: {sorted(alarms)}")
    check(described[f"{STACK}-RotationFailuresAlarm"]["MetricName"] == "RotationsFailed" and described[f"{STACK}-RotationFailuresAlarm"]["Namespace"] == "Coffer", "rotation failure alarm on Coffer/RotationsFailed")
    check(described[f"{STACK}-OverdueRotationsAlarm"]["MetricName"] == "SecretsOverdueForRotation", "overdue rotation alarm on Coffer/SecretsOverdueForRotation")

    print(f"moto_deploy: {len(phys)} resources by CloudFormation, {len(outside)} through the service APIs")


if __name__ == "__main__":
    main()

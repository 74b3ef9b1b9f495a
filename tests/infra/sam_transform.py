"""Transforms infra/sam/template.yaml into plain CloudFormation, offline, with samtranslator.

`python sam_transform.py <template.yaml> <out.json> [s3://bucket/key]`

Every AWS::Serverless::Function's CodeUri (the Cargo workspace root, for `sam build`) is replaced
by the given S3 object (default `s3://coffer-placeholder/bootstrap.zip`), as `sam package` would
do with the built zips. No AWS call is made: the functions use explicit roles, so no managed
policy name needs resolving.
"""
import json
import os
import sys

from cfnlint.decode import decode
from samtranslator.parser.parser import Parser
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    """samtranslator asks this for managed-policy ARNs by name; the template names none."""

    def load(self):
        return {}


def main() -> None:
    # samtranslator fills AWS::Region-dependent pseudo parameters from the environment.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    src, out = sys.argv[1], sys.argv[2]
    code_uri = sys.argv[3] if len(sys.argv) > 3 else "s3://coffer-placeholder/bootstrap.zip"
    template, matches = decode(src)
    if matches:
        sys.exit(f"cannot parse {src}: {matches}")
    functions = 0
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = code_uri
            functions += 1
    cfn = transform(template, {}, NoManagedPolicies(), Parser())
    with open(out, "w", encoding="utf-8") as f:
        json.dump(cfn, f, indent=1, default=str)
    print(f"sam_transform: {src} -> {out} ({functions} functions, {len(cfn['Resources'])} resources)")


if __name__ == "__main__":
    main()

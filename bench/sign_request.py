#!/usr/bin/env python3
"""Write a wrk Lua script that replays one SigV4-signed Secrets Manager request.

The signature is made with botocore (the same signer boto3 and the AWS CLI use) for the
current time, so the request stays acceptable for the server's 15-minute clock-skew window.

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.

    sign_request.py --endpoint http://127.0.0.1:4584 --region us-east-1 \
        --operation GetSecretValue --body '{"SecretId": "bench"}' --out get.lua
"""
import argparse
import json
import os
import sys
from urllib.parse import urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def lua_string(s: str) -> str:
    # A JSON string literal is a valid Lua string literal for our content (its only escapes
    # are \" \\ and the control characters Lua shares); non-ASCII stays raw UTF-8.
    return json.dumps(s, ensure_ascii=False)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--operation", required=True)
    p.add_argument("--body", required=True, help="JSON request body")
    p.add_argument("--out", required=True, help="Lua script to write")
    p.add_argument("--print-headers", action="store_true")
    p.add_argument(
        "--send",
        action="store_true",
        help="also send the request once and print the HTTP status and body",
    )
    args = p.parse_args()

    body = json.dumps(json.loads(args.body), separators=(",", ":"))
    url = args.endpoint.rstrip("/") + "/"
    req = AWSRequest(
        method="POST",
        url=url,
        data=body.encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"secretsmanager.{args.operation}",
        },
    )
    creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(creds, "secretsmanager", args.region).add_auth(req)

    host = urlparse(url).netloc
    headers = {"Host": host}
    for k, v in req.headers.items():
        headers[k] = v
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(body)}"]
    for k, v in headers.items():
        lines.append(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    if args.send:
        import http.client

        parsed = urlparse(url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=30)
        conn.request("POST", "/", body=body.encode(), headers=headers)
        resp = conn.getresponse()
        print(json.dumps({"status": resp.status, "body": resp.read().decode(errors="replace")}))
    if args.print_headers:
        json.dump({"headers": headers, "body": body}, sys.stdout)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An STS endpoint that vouches for one identity: every POST is answered with a
GetCallerIdentityResponse naming the ARN given on the command line (and its account).

Used by tests/tests/fail_closed.rs to play an AWS account the tester controls: no real or moto
STS can be made to report `arn:aws:iam::<any account>:root`. Prints the port it listens on
(127.0.0.1) on its first line; stops when stdin closes.
"""
import http.server
import sys
import threading

ARN = sys.argv[1]
ACCOUNT = ARN.split(":")[4]
BODY = f"""<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>{ARN}</Arn>
    <UserId>{ACCOUNT}</UserId>
    <Account>{ACCOUNT}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>""".encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
server.shutdown()

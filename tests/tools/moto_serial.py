"""moto's server, single-threaded: `python moto_serial.py <host> <port>`.

moto's default threaded server does not apply a DynamoDB conditional write atomically with its
condition check, so concurrent conditional writes (Coffer's optimistic concurrency) can both
succeed against it, which real DynamoDB never allows. Serving one request at a time restores
DynamoDB's semantics for the tests; it costs throughput, not correctness.
"""
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler  # type: ignore[attr-defined]
from werkzeug.serving import run_simple

app = DomainDispatcherApplication(create_backend_app)
run_simple(sys.argv[1], int(sys.argv[2]), app, threaded=False, request_handler=MotoRequestHandler)

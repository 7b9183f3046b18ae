"""Application Python code in the emulator, run as Lambda runs it: in a process of its own.

Lambda's Python runtime puts on sys.path the function's code (the release: its modules and the
requirements the build installed beside them) and the runtime's own libraries, which are boto3
and what boto3 needs; nothing else. A handler that imports a module its release lacks fails to
load there (Runtime.ImportModuleError, "Unable to import module 'api': No module named 'yaml'").
Run inside the emulator's process, the same handler would find the module among the emulator's
own packages (moto brings PyYAML) and pass. So each warm environment of an application function
is a child process (python_bootstrap.py) of this machine's Python, started isolated (`-I -S`: no
site-packages, no PYTHONPATH) with only the code's directory and a directory of links to the
runtime's libraries (RUNTIME_LIBRARIES, found where this process imports them from) on its path.
It runs on this process's interpreter, whatever Python version the function's runtime names:
code that needs a newer Python's syntax or library than this machine's fails here and not in
Lambda.

The code reaches the emulated account through AwsEndpoint: an HTTP endpoint on the loopback
interface that hands each request to moto's in-process dispatcher, as a call made in this
process would be, so it lands in the same backends. The child calls it with the credentials of
the function's own role (an STS session of it, as Lambda gives a function), which put its calls
in the role's account; while a call is served, the emulator sees it as made by that role
(emulator/accounts.py), so cross-account access is checked as for in-process code.

The pipeline's own handlers (validate, run_tests, promote, ...) keep running in the emulator's
process (lambda_runtime.py): they are the tool's code, written for Lambda's runtime (stdlib and
boto3 only), and starting a process for each would cost time for nothing it could find.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from moto.awslambda.models import LambdaFunction
from moto.core.models import botocore_stubber

from .accounts import CALLER
from .node_runtime import AwsAccess, ProcessRuntime

BOOTSTRAP = Path(__file__).with_name("python_bootstrap.py")
RUNTIME_LIBRARIES = ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "urllib3", "six")
"""What Lambda's Python runtime puts beside the function's code: the AWS SDK and its
dependencies."""
# The endpoint's headers that describe the connection to it, not the request to AWS.
_HOP_HEADERS = frozenset({"host", "connection", "keep-alive", "transfer-encoding"})

Serving = Callable[[], contextlib.AbstractContextManager[None]]
"""What a request from a child runs within: the invocation chain it is part of."""


def runtime_libraries(directory: Path) -> Path:
    """`directory`, holding a link to each of the runtime's libraries and nothing else."""
    directory.mkdir(exist_ok=True)
    for name in RUNTIME_LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"the rehearsal needs {name}, which Lambda's Python runtime has")
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = directory / source.name
        if not link.is_symlink():
            link.symlink_to(source, target_is_directory=source.is_dir())
    return directory


class PythonRuntime(ProcessRuntime):
    """Python functions, each environment an isolated process of this machine's Python."""

    def __init__(self, logs: Path, aws: AwsAccess) -> None:
        super().__init__(logs, aws)
        self._libraries = runtime_libraries(logs.parent / "python-runtime")

    def command(self, function: LambdaFunction, directory: Path, answers: int) -> list[str]:
        return [sys.executable, "-I", "-S", str(BOOTSTRAP), str(answers), str(self._libraries)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, endpoint: AwsEndpoint) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.endpoint = endpoint


class _Handler(BaseHTTPRequestHandler):
    """One connection from a child's AWS SDK; keep-alive, as the SDK expects."""

    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: with Nagle's algorithm the body would wait
    # for the SDK's delayed acknowledgement of the headers, some 40 ms a call.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, data = self.server.endpoint.answer(
            self.command, self.path, list(self.headers.items()), body
        )
        self.send_response(status)
        length = str(len(data))
        for name, value in headers.items():
            if name.lower() == "content-length":
                # A HEAD answer says how long the body it does not carry is (S3's HeadObject).
                length = str(value) if self.command == "HEAD" else length
            elif name.lower() not in _HOP_HEADERS:
                self.send_header(name, str(value))
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """The emulator's endpoint keeps quiet, as moto does in process."""


class AwsEndpoint:
    """The emulated account, over HTTP, for code running in child processes. It starts on the
    first request for a function's variables and answers within the invocation chain
    `serving` gives, so that a function the child invokes runs while its caller waits."""

    def __init__(self, serving: Serving) -> None:
        self._serving = serving
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sessions: dict[tuple[str, str], dict[str, str]] = {}
        self._roles: dict[str, str] = {}

    def variables(self, function: LambdaFunction) -> dict[str, str]:
        """The variables that send the function's AWS calls here, as its own role."""
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, daemon=True, name="aws-endpoint"
            )
            self._thread.start()
        host, port = self._server.server_address[:2]
        return {
            **self._session(function.role, function.function_name),
            "AWS_ENDPOINT_URL": f"http://{host!s}:{port}",
        }

    def _session(self, role: str, function_name: str) -> dict[str, str]:
        """Keys of an STS session of `role` named for the function, as Lambda names it; one per
        function and role, so that an environment's variables stay the same, and it warm."""
        if (role, function_name) not in self._sessions:
            # Lambda gives the function its role: no function's code asks for it.
            caller = getattr(CALLER, "role", None)
            CALLER.role = None
            try:
                keys = boto3.client("sts", region_name="us-east-1").assume_role(
                    RoleArn=role, RoleSessionName=function_name
                )["Credentials"]
            finally:
                CALLER.role = caller
            self._roles[keys["AccessKeyId"]] = role
            self._sessions[role, function_name] = {
                "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
                "AWS_SESSION_TOKEN": keys["SessionToken"],
            }
        return self._sessions[role, function_name]

    def answer(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, dict[str, Any], bytes]:
        """(status, headers, body) of moto's answer to one request a child made."""
        scope = _credential_scope(dict((k.lower(), v) for k, v in headers).get("authorization"))
        if scope is None:
            return 403, {}, b"the rehearsal's AWS endpoint answers signed requests only"
        access_key, region, service = scope
        host = f"{service}.{region}.amazonaws.com"
        request_headers = HTTPHeaders()
        for name, value in headers:
            if name.lower() not in _HOP_HEADERS:
                request_headers[name] = value
        request_headers["Host"] = host
        request = AWSPreparedRequest(
            method, f"https://{host}{path}", request_headers, body, stream_output=False
        )
        with self._serving(), self._acting_as(access_key):
            answer = botocore_stubber.process_request(request)
        if answer is None:
            return 400, {}, f"the emulator has no AWS service at {host}".encode()
        status, answer_headers, data = answer
        return status, dict(answer_headers), data.encode() if isinstance(data, str) else data

    @contextlib.contextmanager
    def _acting_as(self, access_key: str) -> Iterator[None]:
        """Within this block, the emulator sees calls as made by the role of `access_key`."""
        saved = getattr(CALLER, "role", None)
        CALLER.role = self._roles.get(access_key)
        try:
            yield
        finally:
            CALLER.role = saved

    def close(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        self._server = self._thread = None
        self._sessions.clear()
        self._roles.clear()


def _credential_scope(authorization: str | None) -> tuple[str, str, str] | None:
    """(access key, region, service) of a SigV4 Authorization header, or None."""
    if not authorization or "Credential=" not in authorization:
        return None
    credential = authorization.split("Credential=", 1)[1].split(",", 1)[0]
    parts = credential.split("/")
    if len(parts) != 5:
        return None
    access_key, _, region, service, _ = parts
    return access_key, region, service

"""Node.js functions in the emulator, and what every function run as a process of its own shares.

JavaScript cannot run inside the emulator's process, and application Python code must not (see
python_runtime.py): each warm execution environment is a child process running a bootstrap (here
node_bootstrap.cjs), which loads the handler as Lambda's runtime does and answers each
invocation as Lambda does. Requests go to the child's stdin and answers come back on a pipe of
their own: what the code prints goes to the function's log file (Lambda sends it to CloudWatch
Logs) and cannot corrupt an answer. ProcessRuntime keeps those environments warm; NodeRuntime
and PythonRuntime say how to start one.

The child gets the function's variables and Lambda's own, never the machine's AWS credentials
or configuration: the credentials of the function's role and the address of the emulated
account (python_runtime.AwsEndpoint, AWS_ENDPOINT_URL, which the AWS SDKs read), so that its AWS
calls reach the emulated account and never a real one. Lambda's bundled AWS SDK for JavaScript
is not provided: Node.js code finds what its release holds.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import json
import os
import select
import shutil
import subprocess
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from moto.awslambda.models import LambdaFunction

from .clock import CLOCK

BOOTSTRAP = Path(__file__).with_name("node_bootstrap.cjs")
# Warm environments kept at most, each a node process of some 40 MB: the least recently invoked
# goes first, as Lambda reclaims idle environments. A rehearsal's releases each bring new code.
WARM_ENVIRONMENTS = 8
_ANSWER_BYTES = 1 << 16


class Timedout(Exception):
    """The handler ran past the function's timeout; its environment was ended."""


@functools.cache
def _version(node: str) -> str:
    done = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout.strip()


def node_problem(runtime: str) -> str | None:
    """Why this machine cannot run functions of the Node.js `runtime` (nodejs20.x, ...), or None.
    The code runs on the machine's node, so its major version must be the runtime's: a function
    rehearsed on another Node.js than Lambda's would prove nothing about it."""
    wanted = runtime.removeprefix("nodejs").partition(".")[0]
    node = shutil.which("node")
    if node is None:
        return (
            "the rehearsal runs Node.js code on this machine's node, and there is no node on "
            f"PATH; install Node.js {wanted}"
        )
    version = _version(node)
    if version.removeprefix("v").partition(".")[0] != wanted:
        return (
            f"the rehearsal runs Node.js code on this machine's node, which is "
            f"{version or 'of no known version'} ({node}), not Node.js {wanted} as in Lambda; "
            f"put Node.js {wanted} first on PATH"
        )
    return None


@dataclass
class _Environment:
    """One warm execution environment: a node process and the read end of its answers."""

    process: subprocess.Popen[bytes]
    answers: int

    def ask(self, request: bytes, timeout: float) -> bytes | None:
        """The answer line to `request`, or None when the process exited without one; Timedout
        once `timeout` seconds pass without it."""
        stdin: IO[bytes] | None = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(request)
            stdin.flush()
        except BrokenPipeError:
            return None
        deadline = time.monotonic() + timeout
        answer = bytearray()
        while not answer.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.answers], [], [], left)[0]:
                raise Timedout
            chunk = os.read(self.answers, _ANSWER_BYTES)
            if not chunk:
                return None
            answer += chunk
        return bytes(answer)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdin is not None:
            # A request the process did not live to read may still be buffered.
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        os.close(self.answers)


AwsAccess = Callable[[LambdaFunction], dict[str, str]]
"""The variables through which a function's code reaches the emulated account: its role's keys
and the endpoint."""


class ProcessRuntime(abc.ABC):
    """The warm environments of functions that run as processes. Invoked again with the same
    code, handler, runtime and variables, a function runs in the same process, its modules'
    state kept; any other invocation starts a process of its own (cold)."""

    def __init__(self, logs: Path, aws: AwsAccess) -> None:
        self.logs = logs
        """Each function's console output, in <function name>.log."""
        logs.mkdir(exist_ok=True)
        self._aws = aws
        self._warm: OrderedDict[tuple[Any, ...], _Environment] = OrderedDict()

    def close(self) -> None:
        """End every environment's process."""
        while self._warm:
            self._warm.popitem()[1].close()

    @abc.abstractmethod
    def command(self, function: LambdaFunction, directory: Path, answers: int) -> list[str]:
        """The command line of a new environment that answers on descriptor `answers`."""

    def run(self, function: LambdaFunction, directory: Path, event: Any) -> tuple[Any, bool]:
        """(payload, errored) for one invocation of `function`, whose code is unpacked in
        `directory`; Timedout when it runs past the function's timeout."""
        variables = _variables(function, directory, self._aws(function))
        key = (directory, function.handler, function.run_time, tuple(sorted(variables.items())))
        environment = self._warm.pop(key, None)
        if environment is None or environment.process.poll() is not None:
            if environment is not None:
                environment.close()
            environment = self._start(function, directory, variables)
        request_id = str(uuid.uuid4())
        request = {
            "event": event,
            "now": round(CLOCK.time() * 1000),
            "timeoutMs": function.timeout * 1000,
            "context": {
                "functionName": function.function_name,
                "functionVersion": str(function.version),
                "invokedFunctionArn": function.function_arn,
                "memoryLimitInMB": str(function.memory_size),
                "awsRequestId": request_id,
                "logGroupName": f"/aws/lambda/{function.function_name}",
            },
        }
        try:
            answer = environment.ask(json.dumps(request).encode() + b"\n", function.timeout)
        except Timedout:
            environment.close()  # Lambda discards an environment that timed out
            raise
        if answer is None:
            code = environment.process.wait()
            environment.close()
            status = f"exit status {code}" if code >= 0 else f"signal {-code}"
            return {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                f"{status}",
            }, True
        reply = json.loads(answer)
        if reply.get("ends"):
            environment.close()
        else:
            self._keep(key, environment)
        if "error" in reply:
            return reply["error"], True
        return reply["result"], False

    def _keep(self, key: tuple[Any, ...], environment: _Environment) -> None:
        self._warm[key] = environment
        while len(self._warm) > WARM_ENVIRONMENTS:
            self._warm.popitem(last=False)[1].close()

    def _start(
        self, function: LambdaFunction, directory: Path, variables: dict[str, str]
    ) -> _Environment:
        answers, answer_end = os.pipe()
        try:
            with (self.logs / f"{function.function_name}.log").open("ab") as log:
                process = subprocess.Popen(
                    self.command(function, directory, answer_end),
                    cwd=directory,
                    env=variables,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=log,
                    pass_fds=(answer_end,),
                )
        except OSError:
            os.close(answers)
            raise
        finally:
            os.close(answer_end)
        return _Environment(process, answers)


class NodeRuntime(ProcessRuntime):
    """Node.js functions, each environment a process of the machine's node."""

    def command(self, function: LambdaFunction, directory: Path, answers: int) -> list[str]:
        return [shutil.which("node") or "node", str(BOOTSTRAP), str(answers)]


def _variables(function: LambdaFunction, directory: Path, aws: dict[str, str]) -> dict[str, str]:
    """The child's whole environment: nothing of the machine's but PATH, the function's
    variables, and Lambda's reserved ones, which the function's cannot override."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        **(function.environment_vars or {}),
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"rehearsal/[{function.version}]{directory.name[:32]}",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
        "LAMBDA_TASK_ROOT": str(directory),
        "_HANDLER": function.handler or "",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        **aws,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }

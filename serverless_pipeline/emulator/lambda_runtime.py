"""Lambda invocations in moto that run the invoked version's own code.

moto without Docker answers every invoke with a canned payload. Here an invoke unpacks the zip
of the exact version (or alias target) invoked, runs its handler with that function's
environment variables, and answers as Lambda does: the result, or an error payload with the
`x-amz-function-error` header, so Step Functions' Catch sees the error type.

Application code runs as Lambda runs it, in a process of its own per execution environment, with
only its release and the runtime's own libraries: Python on this machine's Python
(python_runtime.py), Node.js on its node (node_runtime.py). Its AWS calls reach the same moto
account, as its function's role (python_runtime.AwsEndpoint). The pipeline's own handlers (the
functions whose code is the handlers package) run in this process: they are the tool's code,
written for Lambda's runtime (stdlib and boto3), so isolating them would find nothing and cost
a process each; their calls to AWS reach the moto account because they run inside the same mock,
acting in the function's account (emulator/accounts.py). A function of any other runtime is not
run at all: `cannot_run` says why, and the rehearsal refuses it before it starts.

Like Lambda, the runtime keeps execution environments warm: invoked again with the same code,
handler and environment variables, a function's modules are not imported again. Any other
invocation starts cold, with that code's modules imported afresh. An application function's
environment is a process, several kept warm at once; the handlers share this process's
namespace, so one of their environments is warm at a time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import io
import json
import os
import sys
import tempfile
import threading
import traceback
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend

from ..assets import handlers_package
from .accounts import CALLER, acting_in
from .clock import CLOCK
from .cloudwatch import record_invocation
from .lambda_code import architectures_follow_code
from .node_runtime import NodeRuntime, Timedout, node_problem
from .python_runtime import AwsEndpoint, PythonRuntime


class _ChainLock:
    """One chain of invocations at a time: a handler's module imports and environment are
    process-wide. A chain is the thread that took the lock and the worker threads its handlers
    run in, so a handler may invoke another function (run_tests invokes the candidate) while its
    caller waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chain: set[int] = set()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        me = threading.get_ident()
        if me in self._chain:
            yield
            return
        with self._lock:
            self._chain.add(me)
            try:
                yield
            finally:
                self._chain.discard(me)

    def join(self, worker: int) -> None:
        self._chain.add(worker)

    @contextlib.contextmanager
    def joined(self) -> Iterator[None]:
        """This thread is part of the chain (it serves a child of the chain) until the block
        ends."""
        me = threading.get_ident()
        self._chain.add(me)
        try:
            yield
        finally:
            self._chain.discard(me)

    def leave(self, worker: int | None) -> None:
        """A worker that finished, or was given up on (timed out), leaves the chain."""
        if worker is not None:
            self._chain.discard(worker)


_LOCK = _ChainLock()


class RuntimeNotEmulated(RuntimeError):
    """An invocation of a function whose runtime this machine cannot run (see cannot_run)."""


def cannot_run(runtime: str) -> str | None:
    """Why the emulator cannot run functions of `runtime` on this machine, or None. It has no
    stand-in for a runtime it cannot run: such a function is refused, never run as another."""
    if runtime.startswith("python"):
        return None
    if runtime.startswith("nodejs"):
        return node_problem(runtime)
    return (
        "the rehearsal runs Python functions on this machine's Python and Node.js functions on its "
        f"node, and has no {runtime or 'container image'} runtime to run the code in"
    )


def _timed_out(function: LambdaFunction) -> dict[str, str]:
    """Lambda's answer for an invocation that ran past the function's timeout."""
    return {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"Task timed out after {float(function.timeout):.2f} seconds",
    }


class Context:
    """The parts of the Lambda context object that handlers commonly read."""

    def __init__(self, function: LambdaFunction) -> None:
        self.function_name = function.function_name
        self.function_version = str(function.version)
        self.invoked_function_arn = function.function_arn
        self.memory_limit_in_mb = function.memory_size
        self.aws_request_id = hashlib.sha256(os.urandom(16)).hexdigest()[:32]
        self.log_group_name = f"/aws/lambda/{function.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class InProcessRuntime:
    """Unpacks each distinct code zip once and runs its handlers: the pipeline's own in this
    process, application code in processes of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.endpoint = AwsEndpoint(self._serving)
        self.node = NodeRuntime(root / "logs", self.endpoint.variables)
        self.python = PythonRuntime(root / "logs", self.endpoint.variables)
        # Invocations of code in a child process that are waiting for its answer.
        self._in_children = 0
        # (code, handler, variables) of the warm environment
        self._warm: tuple[Any, ...] | None = None
        # directories whose modules may be imported, and a count of cold starts
        self._loaded: set[Path] = set()
        self._cold_starts = 0

    def close(self) -> None:
        """Forget every module the runtime imported, and end every process."""
        self._forget_modules()
        self.node.close()
        self.python.close()
        self.endpoint.close()

    def _serving(self) -> contextlib.AbstractContextManager[None]:
        """What a child's AWS call runs within: while the chain waits for a child's answer, the
        chain itself (the child is part of it); otherwise its turn, as any other chain."""
        return _LOCK.joined() if self._in_children else _LOCK.held()

    def _forget_modules(self) -> None:
        """Forget every module the runtime imported: its code goes with it."""
        for loaded in self._loaded:
            _forget(loaded)
        self._loaded.clear()
        self._warm = None

    @contextlib.contextmanager
    def _environment(self, key: tuple[Any, ...], directory: Path) -> Iterator[None]:
        """The code importable for one invocation: warm if the last environment was this one,
        else every loaded module forgotten first, so that this code's own are imported."""
        if self._warm != key:
            self._forget_modules()
            self._cold_starts += 1
        cold_starts = self._cold_starts
        self._loaded.add(directory)
        sys.path.insert(0, str(directory))
        importlib.invalidate_caches()
        try:
            yield
        finally:
            sys.path.remove(str(directory))
            # What it imported after an invocation it made went cold is still its directory's.
            self._loaded.add(directory)
            # Warm only if no other environment started meanwhile (an invocation it made).
            self._warm = key if self._cold_starts == cold_starts else None

    def unpack(self, code: bytes, digest: str) -> Path:
        directory = self.root / digest
        if not directory.exists():
            staging = Path(tempfile.mkdtemp(dir=self.root))
            zipfile.ZipFile(io.BytesIO(code)).extractall(staging)
            staging.rename(directory)
        return directory

    def run(self, function: LambdaFunction, event: Any) -> tuple[Any, bool]:
        """(payload, errored) for one invocation of `function` with `event`."""
        runtime = function.run_time or ""
        problem = cannot_run(runtime)
        if problem is not None:
            raise RuntimeNotEmulated(f"function {function.function_name} runs {runtime}: {problem}")
        digest = hashlib.sha256(function.code_bytes).hexdigest()
        directory = self.unpack(function.code_bytes, digest)
        if runtime.startswith("nodejs") or digest != _handlers_digest():
            children = self.node if runtime.startswith("nodejs") else self.python
            with _LOCK.held():
                self._in_children += 1
                try:
                    return children.run(function, directory, event)
                except Timedout:
                    return _timed_out(function), True
                finally:
                    self._in_children -= 1
        module_name, _, attribute = (function.handler or "").rpartition(".")
        variables = {
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
            **(function.environment_vars or {}),
        }
        outcome: list[tuple[Any, bool]] = []

        def call() -> None:
            me = threading.get_ident()
            _LOCK.join(me)
            CALLER.role = function.role  # what its AWS calls act as (emulator/accounts.py)
            try:
                handler = getattr(importlib.import_module(module_name), attribute)
                result = handler(event, Context(function))
                outcome.append((json.loads(json.dumps(result)), False))
            except Exception as error:  # the function's failure is the invocation's answer
                outcome.append(
                    (
                        {
                            "errorType": type(error).__name__,
                            "errorMessage": str(error),
                            "stackTrace": traceback.format_tb(error.__traceback__)[-5:],
                        },
                        True,
                    )
                )
            finally:
                # Thread idents are reused: a finished worker must not vouch for a new thread.
                _LOCK.leave(me)

        key = (directory, function.handler, tuple(sorted(variables.items())))
        with (
            _LOCK.held(),
            self._environment(key, directory),
            mock.patch.dict(os.environ, variables),
            acting_in(function.account_id),
            # Function code reads the emulator's clock, as metrics, alarms and waits do: a
            # deadline or a bake window it computes is on the same time line.
            mock.patch("time.time", CLOCK.time),
        ):
            # The function's own timeout, as Lambda enforces it: a handler that hangs fails the
            # invocation instead of the rehearsal.
            worker = threading.Thread(target=call, daemon=True, name=function.function_name)
            worker.start()
            worker.join(function.timeout)
            if worker.is_alive():
                _LOCK.leave(worker.ident)
                self._cold_starts += 1  # Lambda discards an environment that timed out
                return _timed_out(function), True
        return outcome[0]


@functools.cache
def _handlers_digest() -> str:
    """The digest of the pipeline's own handlers' code, which runs in this process."""
    return hashlib.sha256(handlers_package()).hexdigest()


def _forget(directory: Path) -> None:
    """Forget the modules imported from `directory`, so that the next invocation of other code
    imports its own modules of the same names."""
    for name, module in list(sys.modules.items()):
        module_file = getattr(module, "__file__", None) or ""
        if module_file.startswith(str(directory)):
            del sys.modules[name]


@contextlib.contextmanager
def in_process_lambda() -> Iterator[InProcessRuntime]:
    """Within this block, invoking a function in moto (with use_docker False) runs its code."""
    with tempfile.TemporaryDirectory(prefix="lambda-runtime-") as root:
        runtime = InProcessRuntime(Path(root))

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes:
            function = backend.get_function(function_name, qualifier)
            event = json.loads(body) if body else {}
            payload, errored = runtime.run(function, event)
            record_invocation(
                backend.account_id, backend.region_name, function.function_name, qualifier, errored
            )
            if errored:
                response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(payload).encode()

        original_response_invoke = LambdaResponse.invoke

        def response_invoke(response: LambdaResponse) -> Any:
            # moto reads the qualifier as "qualifier" while boto3 sends "Qualifier": without this,
            # invoking an alias or a version runs $LATEST.
            read = response._get_param

            def get_param(name: str, if_none: Any = None) -> Any:
                return read("Qualifier" if name == "qualifier" else name, if_none)

            with mock.patch.object(response, "_get_param", get_param):
                return original_response_invoke(response)

        with (
            mock.patch.object(LambdaSimpleBackend, "invoke", invoke),
            mock.patch.object(LambdaResponse, "invoke", response_invoke),
            architectures_follow_code(),
        ):
            try:
                yield runtime
            finally:
                runtime.close()

"""One execution environment of a Python function in the rehearsal's Lambda emulator.

python_runtime.py starts this file as a script, in an isolated interpreter (`-I -S`: no
site-packages, no PYTHONPATH, not even this file's directory), so that it imports nothing of the
emulator's. The arguments are the descriptor that answers go to and the directories Lambda's
Python runtime puts after the function's code: its own libraries (boto3 and what boto3 needs).
The code's directory ($LAMBDA_TASK_ROOT) comes first, as in Lambda.

It loads the handler ($_HANDLER, module.function) as Lambda's runtime interface client does and
answers one invocation per request line on stdin with one response line on the answers
descriptor; what the code prints goes to the function's log. A handler that cannot be loaded
answers with the runtime's error (Runtime.ImportModuleError, Runtime.UserCodeSyntaxError,
Runtime.HandlerNotFound, Runtime.MalformedHandlerName) and ends the environment: Lambda loads the
code again on the next invocation.

Each request carries the emulator's clock, which runs ahead of the machine's: time.time reads it,
as function code running inside the emulator's process does.
"""

from __future__ import annotations

import json
import os
import sys
import time

# Every module this imports is a cold start's cost (typing alone costs more than the rest): types
# are for the type checker only, and what only errors or Decimals need is imported when they
# occur (traceback), or found already imported by the code that made them (decimal).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Handler = Callable[[Any, "Context"], Any]


class RuntimeFault(Exception):
    """An error of the runtime itself, named as Lambda names it (Runtime.ImportModuleError...)."""

    def __init__(self, kind: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.trace = trace or []


class Context:
    """Lambda's context object, as its Python runtime builds it: the function's identity from
    the environment, the invocation's from the request."""

    def __init__(self, request: dict[str, Any], deadline: float) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.invoked_function_arn: str = request["invokedFunctionArn"]
        self.aws_request_id: str = request["awsRequestId"]
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(round((self._deadline - time.time()) * 1000), 0)


def load(handler: str) -> Handler:
    """The handler function, or the RuntimeFault Lambda answers with instead."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        raise RuntimeFault(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
        )
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise RuntimeFault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        __import__(module_name.replace("/", "."))
    except ImportError as error:
        raise RuntimeFault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from None
    except SyntaxError as error:
        raise RuntimeFault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {error}",
            [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}'],
        ) from None
    found = getattr(sys.modules[module_name.replace("/", ".")], function_name, None)
    if found is None:
        raise RuntimeFault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    function: Handler = found
    return function


def error_of(error: BaseException) -> dict[str, Any]:
    """Lambda's error payload for an exception the handler raised."""
    if isinstance(error, RuntimeFault):
        return {"errorMessage": str(error), "errorType": error.kind, "stackTrace": error.trace}
    import traceback

    # The first frame is this bootstrap's call of the handler.
    tb = error.__traceback__.tb_next if error.__traceback__ else None
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(tb)),
    }


def _decimal(value: object) -> float:
    """The runtime's JSON encoder turns Decimals (DynamoDB's numbers) into numbers."""
    decimal = sys.modules.get("decimal")
    if decimal is not None and isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encoded(reply: dict[str, Any]) -> bytes:
    """The answer line; a result that JSON cannot hold answers as the runtime's MarshalError."""
    try:
        line = json.dumps(reply, default=_decimal)
    except (TypeError, ValueError) as error:
        failure = {
            "errorMessage": f"Unable to marshal response: {error}",
            "errorType": "Runtime.MarshalError",
            "stackTrace": [],
        }
        line = json.dumps({"error": failure})
    return (line + "\n").encode()


def main() -> None:
    answers = int(sys.argv[1])
    sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"], *sys.argv[2:]]
    real_time = time.time
    offset = 0.0

    def virtual_time() -> float:
        return real_time() + offset

    time.time = virtual_time
    handler: Handler | None = None
    for line in sys.stdin:
        request = json.loads(line)
        offset = request["now"] / 1000 - real_time()
        deadline = virtual_time() + request["timeoutMs"] / 1000
        reply: dict[str, Any]
        try:
            if handler is None:
                handler = load(os.environ["_HANDLER"])
            reply = {"result": handler(request["event"], Context(request["context"], deadline))}
        except RuntimeFault as fault:
            reply = {"error": error_of(fault), "ends": True}
        except Exception as error:  # the function's failure is the invocation's answer
            reply = {"error": error_of(error)}
        sys.stdout.flush()
        sys.stderr.flush()
        data = encoded(reply)
        while data:
            data = data[os.write(answers, data) :]
        if reply.get("ends"):
            return


if __name__ == "__main__":
    main()

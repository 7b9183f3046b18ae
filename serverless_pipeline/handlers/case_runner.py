"""Running one test case of a release against its code, and judging the outcome.

A candidate release is run in a child interpreter with an environment that holds no AWS
credentials: the release's code is not yet trusted and must not act with the pipeline's role.
The outcome crosses back through a file, so whatever the code prints cannot forge a result.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .archive import TestCase, handler_location

_CHILD = r"""
import importlib, json, sys
root, module, function, event_path, outcome_path = sys.argv[1:6]
sys.path.insert(0, root)

class Context:
    function_name = "candidate"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    aws_request_id = "candidate"
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:candidate"
    def get_remaining_time_in_millis(self):
        return 30000

try:
    with open(event_path) as stream:
        event = json.load(stream)
    result = getattr(importlib.import_module(module), function)(event, Context())
    try:
        outcome = {"result": json.loads(json.dumps(result))}
    except (TypeError, ValueError) as error:
        outcome = {"errorType": "Runtime.MarshalError", "errorMessage": str(error)}
except Exception as error:
    outcome = {"errorType": type(error).__name__, "errorMessage": str(error)}
with open(outcome_path, "w") as stream:
    json.dump(outcome, stream)
"""


def run_candidate(root: Path, handler: str, case: TestCase, timeout: int) -> dict[str, Any]:
    """The outcome of `case` against the unpacked release at `root`: {'result': ...} or
    {'errorType': ..., 'errorMessage': ...}, as Lambda would report it."""
    path, function = handler_location(handler)
    module = path[: -len(".py")].replace("/", ".")
    with tempfile.TemporaryDirectory() as scratch:
        event_path, outcome_path = Path(scratch, "event.json"), Path(scratch, "outcome.json")
        event_path.write_text(json.dumps(case.event))
        environment = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **case.environment}
        try:
            completed = subprocess.run(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    _CHILD,
                    str(root),
                    module,
                    function,
                    str(event_path),
                    str(outcome_path),
                ],
                env=environment,
                cwd=scratch,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"errorType": "Sandbox.Timedout", "errorMessage": f"no result in {timeout} s"}
        if not outcome_path.exists():
            stderr = completed.stderr.decode(errors="replace")[-500:]
            return {"errorType": "Runtime.ExitError", "errorMessage": stderr}
        outcome: dict[str, Any] = json.loads(outcome_path.read_text())
        return outcome


def judge(case: TestCase, outcome: dict[str, Any]) -> str | None:
    """Why the outcome does not match the case, or None when it does."""
    if case.expected_error is not None:
        if outcome.get("errorType") == case.expected_error:
            return None
        return f"expected error {case.expected_error}, got {_describe(outcome)}"
    if "errorType" in outcome:
        return f"expected {json.dumps(case.expected)[:200]}, got {_describe(outcome)}"
    if outcome.get("result") != case.expected:
        return (
            f"expected {json.dumps(case.expected)[:200]}, "
            f"got {json.dumps(outcome.get('result'))[:200]}"
        )
    return None


def _describe(outcome: dict[str, Any]) -> str:
    if "errorType" in outcome:
        return f"error {outcome['errorType']}: {str(outcome.get('errorMessage'))[:200]}"
    return f"result {json.dumps(outcome.get('result'))[:200]}"

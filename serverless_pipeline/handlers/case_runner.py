"""Running one test case of a release through Lambda, and judging the outcome.

Every case runs in a function that holds the release's code (the candidate function, a staging
version through its alias, or the version a deployment is about to shift to), never in the
handler that judges it: release code does not share a process with the pipeline's roles.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config

from .archive import TestCase

# A case may run as long as Lambda allows (900 s): the client waits that long for the answer,
# and never sends a case again on a timeout, which would run its side effects twice (the
# Lambda API reference for Invoke: configure the client for long synchronous invocations).
LONGEST_CASE_SECONDS = 910


def invoke_client(
    read_timeout: float = LONGEST_CASE_SECONDS, session: boto3.Session | None = None
) -> Any:
    """A Lambda client for invoking test cases: a read timeout as long as a case may take (or
    as the caller has left), no retries; in `session` (an environment's deployment role) where
    given."""
    config = Config(
        read_timeout=max(read_timeout, 1), connect_timeout=10, retries={"total_max_attempts": 1}
    )
    return (session or boto3).client("lambda", config=config)


def invoke_case(client: Any, function_name: str, qualifier: str, case: TestCase) -> dict[str, Any]:
    """Invoke one case through an alias or version; the outcome as Lambda reported it:
    {'result': ...} or {'errorType': ..., 'errorMessage': ...}."""
    response = client.invoke(
        FunctionName=function_name, Qualifier=qualifier, Payload=json.dumps(case.event).encode()
    )
    payload = response["Payload"].read()
    try:
        body = json.loads(payload) if payload else None
    except json.JSONDecodeError:
        body = payload.decode(errors="replace")
    if response.get("FunctionError"):
        if isinstance(body, dict):
            return {"errorType": body.get("errorType"), "errorMessage": body.get("errorMessage")}
        return {"errorType": "Unhandled", "errorMessage": str(body)}
    return {"result": body}


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

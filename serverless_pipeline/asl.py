"""The state machine definitions: ASL templates with ${Placeholder}s, filled structurally.

A template is parsed as JSON and every string is visited: a string that is exactly one
placeholder becomes the value itself (so numbers stay numbers), a placeholder inside a longer
string is replaced in place. Nothing is concatenated by hand, a placeholder without a value is an
error, and a value that is an unresolved cdktf token passes through for Terraform to fill in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from . import defaults

DEPLOYMENT_TEMPLATE = "deployment.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Za-z0-9]*)\}")


def template(name: str = DEPLOYMENT_TEMPLATE) -> Any:
    text = resources.files("serverless_pipeline").joinpath("asl", name).read_text()
    return json.loads(text)


def placeholders(document: Any) -> set[str]:
    """Every placeholder name a document uses."""
    found: set[str] = set()

    def collect(text: str) -> str:
        found.update(_PLACEHOLDER.findall(text))
        return text

    _walk(document, collect)
    return found


def fill(document: Any, values: Mapping[str, Any]) -> Any:
    """A copy of document with each placeholder replaced; KeyError names any missing one."""
    missing = placeholders(document) - set(values)
    if missing:
        raise KeyError(f"no value for placeholder(s) {', '.join(sorted(missing))}")

    def substitute(text: str) -> Any:
        whole = _PLACEHOLDER.fullmatch(text)
        if whole:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text)

    return _walk(document, substitute)


def render(values: Mapping[str, Any], name: str = DEPLOYMENT_TEMPLATE) -> str:
    """The filled template as the compact JSON string Step Functions takes as its definition."""
    return json.dumps(fill(template(name), values), indent=None, separators=(",", ":"))


def _walk(node: Any, on_string: Callable[[str], Any]) -> Any:
    if isinstance(node, dict):
        return {key: _walk(value, on_string) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk(item, on_string) for item in node]
    if isinstance(node, str):
        return on_string(node)
    return node


def definition_values(
    *,
    partition: str,
    validate: str,
    run_tests: str,
    promote: str,
    rollback: str,
    approval: str,
    notification_topic: str,
    poll_interval_seconds: int,
    task_timeout_seconds: int,
    approval_timeout_seconds: int | None,
) -> dict[str, object]:
    """The placeholder values of the deployment ASL template; the rehearsal fills the same ones."""
    return {
        "Partition": partition,
        "ValidateFunctionArn": validate,
        "RunTestsFunctionArn": run_tests,
        "PromoteFunctionArn": promote,
        "RollbackFunctionArn": rollback,
        "ApprovalFunctionArn": approval,
        "NotificationTopicArn": notification_topic,
        "PollIntervalSeconds": poll_interval_seconds,
        "TaskTimeoutSeconds": task_timeout_seconds,
        "ApprovalRequired": approval_timeout_seconds is not None,
        # The state exists either way; unused without approval, it still needs a valid value.
        "ApprovalTimeoutSeconds": approval_timeout_seconds or defaults.APPROVAL_TIMEOUT_SECONDS,
    }

"""The state machine definition: ASL templates with ${Placeholder}s, composed and filled
structurally.

A template is parsed as JSON and every string is visited, state names (keys) included: a string
that is exactly one placeholder becomes the value itself (so numbers stay numbers), a
placeholder inside a longer string is replaced in place. Nothing is concatenated by hand, a
placeholder without a value is an error, and a value that is an unresolved cdktf token passes
through for Terraform to fill in.

`compose` builds the definition for a list of environments from `deployment.asl.json` (the
states every release goes through first and last) and, per environment, `environment.asl.json`,
`environment-tests.asl.json` (every environment but the last) and the approval gates. `fill`
then gives it the pipeline's ARNs and settings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

from . import defaults, naming

DEPLOYMENT_TEMPLATE = "deployment.asl.json"
ENVIRONMENT_TEMPLATE = "environment.asl.json"
TESTS_TEMPLATE = "environment-tests.asl.json"
# Before every environment: its alarms, the line and its deployment window.
GATES_TEMPLATE = "environment-gates.asl.json"
# After an environment's deployment, where it bakes.
BAKE_TEMPLATE = "environment-bake.asl.json"
APPROVAL_TEMPLATE = "approval.asl.json"
# The gate before the last environment: always present, and open unless approval is required.
APPROVAL_CHOICE_TEMPLATE = "approval-choice.asl.json"
# The states of the head template after which the environments' states come.
ENVIRONMENTS_AFTER = "RunTests"
# One environment of a definition: its name and, if a person must approve before it, how long
# the gate waits.
Stage = tuple[str, int | None]
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


def fill(document: Any, values: Mapping[str, Any], *, partial: bool = False) -> Any:
    """A copy of document with each placeholder replaced; KeyError names any missing one.
    `partial` leaves placeholders without a value as they are (for a later fill)."""
    missing = placeholders(document) - set(values)
    if missing and not partial:
        raise KeyError(f"no value for placeholder(s) {', '.join(sorted(missing))}")

    def value(match: re.Match[str]) -> Any:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    def substitute(text: str) -> Any:
        whole = _PLACEHOLDER.fullmatch(text)
        if whole:
            return value(whole)
        return _PLACEHOLDER.sub(lambda match: str(value(match)), text)

    return _walk(document, substitute)


class DuplicateState(ValueError):
    """Two environments would give the definition two states of one name."""

    def __init__(self, state: str) -> None:
        super().__init__(f"the definition would have two states named {state}")
        self.state = state


def compose(environments: Sequence[Stage], bake: Mapping[str, int] | None = None) -> Any:
    """The deployment definition for these environments, in order, with the pipeline's ARNs
    and settings still placeholders (see `definition_values`); `bake`: environment -> seconds
    a release bakes there after its deployment (none where absent)."""
    titles = [naming.state_title(name) for name, _ in environments]
    last = len(environments) - 1
    entries = [
        "ApprovalRequired"
        if index == last
        else f"WaitForApproval{title}"
        if approval is not None
        else f"Start{title}Gates"
        for index, ((_, approval), title) in enumerate(zip(environments, titles, strict=True))
    ]
    states: dict[str, Any] = {}
    for index, ((name, approval), title) in enumerate(zip(environments, titles, strict=True)):
        values = {"Title": title, "Environment": name, "EnvKey": naming.state_key(name)}
        if index == last:
            gate = {
                "ApprovalState": "WaitForApproval",
                "ApprovalTimeout": "${ApprovalTimeoutSeconds}",
            }
            _merge(states, _states(APPROVAL_CHOICE_TEMPLATE, values))
            _merge(states, _states(APPROVAL_TEMPLATE, values | gate))
        elif approval is not None:
            gate = {
                "ApprovalState": entries[index],
                "ApprovalTimeout": f"${{ApprovalTimeoutSeconds{title}}}",
            }
            _merge(states, _states(APPROVAL_TEMPLATE, values | gate))
        _merge(states, _states(GATES_TEMPLATE, values))
        after = "NotifyPromoted" if index == last else f"RunTestsIn{title}"
        seconds = (bake or {}).get(name, 0)
        # The execution holds the pipeline until nothing can send it to Rollback any more:
        # past the last environment's deployment, and past its bake where it bakes.
        if seconds:
            baking = {
                "BakeSeconds": seconds,
                "AfterBake": after,
                "ReleaseClaimBaked": index == last,
            }
            _merge(states, _states(BAKE_TEMPLATE, values | baking))
            after = f"Bake{title}"
        deployed = {"AfterDeployed": after, "ReleaseClaimDeployed": index == last and not seconds}
        _merge(states, _states(ENVIRONMENT_TEMPLATE, values | deployed))
        if index != last:
            _merge(states, _states(TESTS_TEMPLATE, values | {"NextState": entries[index + 1]}))
    skeleton = fill(
        template(),
        {"FirstState": entries[0], "LastEnvironment": environments[last][0]},
        partial=True,
    )
    head = list(skeleton["States"])
    for name in states:
        if name in head:
            raise DuplicateState(name)
    split = head.index(ENVIRONMENTS_AFTER) + 1
    skeleton["States"] = (
        {key: skeleton["States"][key] for key in head[:split]}
        | states
        | {key: skeleton["States"][key] for key in head[split:]}
    )
    return skeleton


def _states(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    states: dict[str, Any] = fill(template(name), values, partial=True)["States"]
    return states


def _merge(states: dict[str, Any], more: dict[str, Any]) -> None:
    """Add states, refusing a name that is already taken (it would replace a state silently)."""
    for name in more:
        if name in states:
            raise DuplicateState(name)
    states.update(more)


def render(
    values: Mapping[str, Any], environments: Sequence[Stage], bake: Mapping[str, int] | None = None
) -> str:
    """The definition for these environments, filled, as the compact JSON string Step
    Functions takes."""
    document = fill(compose(environments, bake), values)
    return json.dumps(document, indent=None, separators=(",", ":"))


def _walk(node: Any, on_string: Callable[[str], Any]) -> Any:
    if isinstance(node, dict):
        return {_walk(key, on_string): _walk(value, on_string) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk(item, on_string) for item in node]
    if isinstance(node, str):
        return on_string(node)
    return node


# What a release may spend outside its deployments and approvals: the claim, validation and the
# candidate tests before them, and Rollback after a failure with all of its retries (6 attempts
# and their backoff), with a margin for the notifications.
_TASKS_OUTSIDE_ENVIRONMENTS = 3
_ROLLBACK_ATTEMPTS = 6
_ROLLBACK_BACKOFF_SECONDS = 5 + 10 + 20 + 40 + 80
_NOTIFY_SECONDS = 600
# ClaimPipeline waits for the cleanup of the execution before it: its retries' intervals.
_CLAIM_WAIT_SECONDS = 30 + 60 + 120 + 240 + 300 + 300


def gate_seconds(
    bake_seconds: Sequence[int],
    window_wait_seconds: Sequence[int],
    line_wait_seconds: int,
    task_timeout_seconds: int,
) -> int:
    """The longest a release may spend at the gates: each environment's bake and its wait for
    its deployment window (`window_wait_seconds`, one per environment, 0 without a window);
    the first environment's gate bounds the line and its window by one wait, the longer of
    the two. Each look's time falls inside its wait but the last, one task per gate."""
    waits = list(window_wait_seconds)
    first = max(line_wait_seconds, waits[0] if waits else 0)
    return sum(bake_seconds) + first + sum(waits[1:]) + len(waits) * task_timeout_seconds


def execution_timeout_seconds(
    environments: Sequence[Stage],
    *,
    deployment_timeout_seconds: int,
    poll_interval_seconds: int,
    task_timeout_seconds: int,
    gate_seconds: int = 0,
) -> int:
    """The longest a release may take, the execution's own TimeoutSeconds: every approval's
    wait, the gates' waits and bakes (`gate_seconds`), and per environment its deployment's
    deadline, one more poll and five tasks (the gate's last check, start, the last check, the
    bake's check, the environment's tests); beyond it the execution times out, and the cleanup
    rule rolls back what it touched."""
    approvals = sum(seconds or 0 for _, seconds in environments)
    per_environment = deployment_timeout_seconds + poll_interval_seconds + 5 * task_timeout_seconds
    return (
        approvals
        + gate_seconds
        + len(environments) * per_environment
        + _TASKS_OUTSIDE_ENVIRONMENTS * task_timeout_seconds
        + _ROLLBACK_ATTEMPTS * task_timeout_seconds
        + _ROLLBACK_BACKOFF_SECONDS
        + _NOTIFY_SECONDS
        + _CLAIM_WAIT_SECONDS
    )


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
    deployment_timeout_seconds: int,
    environments: Sequence[Stage],
    gate_seconds: int = 0,
) -> dict[str, object]:
    """The placeholder values of the composed definition; the rehearsal fills the same ones."""
    *earlier, (_, approval_timeout_seconds) = environments
    gates = {
        f"ApprovalTimeoutSeconds{naming.state_title(name)}": seconds
        for name, seconds in earlier
        if seconds is not None
    }
    return gates | {
        "Partition": partition,
        "ValidateFunctionArn": validate,
        "RunTestsFunctionArn": run_tests,
        "PromoteFunctionArn": promote,
        "RollbackFunctionArn": rollback,
        "ApprovalFunctionArn": approval,
        "NotificationTopicArn": notification_topic,
        "PollIntervalSeconds": poll_interval_seconds,
        "TaskTimeoutSeconds": task_timeout_seconds,
        "ExecutionTimeoutSeconds": execution_timeout_seconds(
            environments,
            deployment_timeout_seconds=deployment_timeout_seconds,
            poll_interval_seconds=poll_interval_seconds,
            task_timeout_seconds=task_timeout_seconds,
            gate_seconds=gate_seconds,
        ),
        "ApprovalRequired": approval_timeout_seconds is not None,
        # The state exists either way; unused without approval, it still needs a valid value.
        "ApprovalTimeoutSeconds": approval_timeout_seconds or defaults.APPROVAL_TIMEOUT_SECONDS,
    }

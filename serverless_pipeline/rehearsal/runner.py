"""Push releases through the emulated pipeline and report what happened to each."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto import mock_aws
from moto.core.config import DefaultConfig

from ..config import PipelineConfig
from ..emulator.clock import CLOCK, virtual_timeouts
from ..emulator.codedeploy import lambda_deployments
from ..emulator.lambda_runtime import in_process_lambda
from ..emulator.stepfunctions import repeatable_executions, virtual_waits
from ..handlers.rollback import FAILURE_EVENTS
from . import account as emulated
from . import sample_app

# (release, state name, "entered" | "succeeded" | "failed") as the execution moves.
Progress = Callable[[str, str, str], None]
# release -> "approve", "reject", or None to give no answer (the approval then times out).
Approver = Callable[[str], "str | None"]
STATUS_READ_SECONDS = 0.02
HISTORY_READ_SECONDS = 0.25
EMULATOR_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


@dataclass
class ReleaseOutcome:
    release: str
    kind: str
    outcome: str  # "promoted" or "rolled_back"
    failed_state: str | None
    error: str | None
    path: list[str]
    live: dict[str, str | None]
    """Environment -> the release every function there serves (None when they differ)."""
    functions: dict[str, dict[str, str | None]]
    """Environment -> function -> the release it serves."""
    rollback: dict[str, dict[str, str]] | None
    """What Rollback did, environment -> function -> restored, already_restored (CodeDeploy
    had moved the alias back) or untouched; None when the release was not rolled back."""

    def to_json(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "kind": self.kind,
            "outcome": self.outcome,
            "failed_state": self.failed_state,
            "error": self.error,
            "path": self.path,
            "live": self.live,
            "functions": self.functions,
            "rollback": self.rollback,
        }


@dataclass
class Rehearsal:
    releases: list[ReleaseOutcome] = field(default_factory=list)
    live: dict[str, str | None] = field(default_factory=dict)
    functions: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # What subscribers of the notification topic received, in order.
    notifications: list[Any] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "releases": [r.to_json() for r in self.releases],
            "live": self.live,
            "functions": self.functions,
        }


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep the emulator's own logging and warnings off the user's screen."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            logging.disable(previous)


def rehearse(
    config: PipelineConfig,
    kinds: list[str],
    progress: Progress | None = None,
    approver: Approver | None = None,
) -> Rehearsal:
    """Release each kind in order (r2, r3, ...) after r1 is live everywhere. When the config
    requires approval, `approver` answers for each release (by default: approve)."""
    unknown = [kind for kind in kinds if kind not in sample_app.KINDS]
    if unknown:
        raise ValueError(
            f"unknown release kind(s) {', '.join(unknown)}; "
            f"valid kinds: {', '.join(sample_app.KINDS)}"
        )
    report = progress or (lambda release, state, event: None)
    with (
        quiet(),
        mock_aws(config=EMULATOR_CONFIG),
        in_process_lambda(),
        repeatable_executions(),
        virtual_waits(),
        virtual_timeouts(),
    ):
        account = emulated.create(config)
        with lambda_deployments(emulated.user_traffic):
            rehearsal = Rehearsal()
            for number, kind in enumerate(kinds, start=2):
                release = f"r{number}"
                rehearsal.releases.append(
                    _release(account, release, kind, report, approver or (lambda _: "approve"))
                )
            rehearsal.live, rehearsal.functions = _live(account)
            rehearsal.notifications = account.notifications()
            return rehearsal


def _release(
    account: emulated.EmulatedAccount,
    release: str,
    kind: str,
    report: Progress,
    approver: Approver,
) -> ReleaseOutcome:
    location = account.upload(release, sample_app.release_zip(kind, release))
    execution = account.sfn.start_execution(
        stateMachineArn=account.state_machine_arn,
        name=f"release-{release}",
        input=json.dumps({"release": location}),
    )["executionArn"]
    path: list[str] = []
    seen, answered, read_at = 0, -1, 0.0
    while True:
        status = account.sfn.describe_execution(executionArn=execution)["status"]
        # The history is read whole on every call, costing time that the execution's own
        # thread needs: a few times a second, and once more at the end.
        if status == "RUNNING" and time.monotonic() - read_at < HISTORY_READ_SECONDS:
            time.sleep(STATUS_READ_SECONDS)
            continue
        read_at = time.monotonic()
        events = account.sfn.get_execution_history(executionArn=execution)["events"]
        for index in range(seen, len(events)):
            previous = events[index - 1]["type"] if index else ""
            _report_event(events[index], previous, release, path, report)
        seen = len(events)
        if status != "RUNNING":
            break
        # Each approval gate the execution reaches is answered once (path index of the gate).
        gate = len(path) - 1
        if (
            gate > answered
            and path[-1].startswith("WaitForApproval")
            and _answer(account, release, f"release-{release}", approver)
        ):
            answered = gate
    failed_state, error = _failure(path, events)
    live, functions = _live(account)
    return ReleaseOutcome(
        release=release,
        kind=kind,
        outcome="promoted" if status == "SUCCEEDED" else "rolled_back",
        failed_state=failed_state,
        error=error,
        path=path,
        live=live,
        functions=functions,
        rollback=_rollback(events),
    )


def _rollback(events: list[dict[str, Any]]) -> dict[str, dict[str, str]] | None:
    """The Rollback task's report of each function, from the execution's history."""
    in_rollback = False
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details:
            in_rollback = details["name"] == "Rollback"
        elif in_rollback and event["type"] == "TaskSucceeded":
            report = json.loads(event["taskSucceededEventDetails"]["output"])["Payload"]
            return {
                environment: {function: outcome["action"] for function, outcome in done.items()}
                for environment, done in report["environments"].items()
            }
    return None


def _live(
    account: emulated.EmulatedAccount,
) -> tuple[dict[str, str | None], dict[str, dict[str, str | None]]]:
    """(environment -> the release all its functions serve, environment -> function ->
    release), read back from Lambda."""
    functions = {env: account.functions_live(env) for env in account.application.environment_names}
    live = {
        env: releases.pop() if len(releases := set(served.values())) == 1 else None
        for env, served in functions.items()
    }
    return live, functions


def _answer(
    account: emulated.EmulatedAccount, release: str, execution: str, approver: Approver
) -> bool:
    """Once the approval request is recorded, answer it as a person would: by invoking the
    approval function; or give no answer, and let the emulator's clock run to the approval's
    timeout (its configured value: hours pass in a moment). True once answered or left."""
    gate = account.approval_pending(execution)
    if gate is None:
        return False
    decision = approver(release)
    if decision is None:
        CLOCK.advance_to_next_deadline()
    else:
        answer = {
            "action": decision,
            "release_id": release,
            "execution": execution,
            "environment": gate,
        }
        account.lam.invoke(
            FunctionName=account.approval_function, Payload=json.dumps(answer).encode()
        )
    return True


def _report_event(
    event: dict[str, Any], previous: str, release: str, path: list[str], report: Progress
) -> None:
    """Entered and exited states become progress; a state that exits right after its task
    failed (its Catch took the error) is reported failed, not succeeded."""
    kind = event["type"]
    if kind.endswith("StateEntered"):
        name = event["stateEnteredEventDetails"]["name"]
        path.append(name)
        report(release, name, "entered")
        if kind == "FailStateEntered":  # a Fail state ends the execution without an exit event
            report(release, name, "failed")
    elif kind.endswith("StateExited"):
        name = event["stateExitedEventDetails"]["name"]
        # A state that exits right after a failed task exits through its Catch.
        report(release, name, "failed" if previous in FAILURE_EVENTS else "succeeded")


def _failure(path: list[str], events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The state whose error sent the execution to Rollback, and that error."""
    if "Rollback" not in path:
        return None, None
    failed = path[path.index("Rollback") - 1]
    for event in events:
        if event["type"] == "ExecutionFailed":
            details = event.get("executionFailedEventDetails", {})
            return failed, details.get("error")
    return failed, None

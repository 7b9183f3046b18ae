"""Push releases through the emulated pipeline and report what happened to each.

Every AWS call of the pipeline's handlers, traffic hooks and state machine is authorized
against the synthesized stack's IAM policies (emulator/iam_enforcement.py): a call the stack
does not allow stops the rehearsal with `PermissionDenied`, naming the role, the action and the
resource, as that release would fail on AWS.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws
from moto.core.config import DefaultConfig
from moto.stepfunctions.parser.utils import TMP_THREADS as INTERPRETER_THREADS

from ..application_settings import DeploymentWindow
from ..config import PipelineConfig
from ..emulator.accounts import trusted_roles_only
from ..emulator.clock import CLOCK, virtual_timeouts
from ..emulator.cloudwatch import alarm_history, hold_in_alarm
from ..emulator.codedeploy import DeploymentEmulator, lambda_deployments, nobody_watches
from ..emulator.eventbridge import deliver, status_change
from ..emulator.iam_enforcement import Enforcement, enforced
from ..emulator.lambda_runtime import cannot_run, in_process_lambda
from ..emulator.ssm import change_calendars, set_calendar
from ..emulator.stepfunctions import repeatable_executions, virtual_waits
from ..handlers.rollback import FAILURE_EVENTS
from ..layout import CLEANUP_STATUSES, ApplicationLayout, pipeline_layout
from . import account as emulated
from . import sample_app
from .conditions import Conditions, condition_problems
from .source import ABORTS, ReleaseSource

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
    cause: str | None
    """What the failed state's handler said (its error message), or None."""
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
            "cause": self.cause,
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
    started_at: str = ""
    """When the emulator's clock started (ISO 8601, UTC): what the gates' windows saw."""

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
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


def kind_problems(source: ReleaseSource, kinds: list[str]) -> list[str]:
    """Why these release kinds cannot be rehearsed from `source` (empty when they can)."""
    unknown = [kind for kind in kinds if kind not in source.kinds]
    if unknown:
        return [
            f"unknown release kind {', '.join(map(repr, unknown))}; "
            f"valid kinds: {', '.join(source.kinds)}"
        ]
    return [reason for kind in dict.fromkeys(kinds) if (reason := source.refusal(kind))]


def function_problems(application: ApplicationLayout) -> list[str]:
    """Why functions of the application cannot be rehearsed on this machine (empty when all
    can). The rehearsal runs each function's real code or refuses it: it never stands in for a
    runtime, and a layer's content is in AWS, not here, so its code would run without it."""
    problems: list[str] = []
    functions = {function.key: function for _, function in application.targets()}
    for key, function in functions.items():
        if function.package_type == "Image":
            problems.append(
                f"function {key} is a container image, which the rehearsal cannot run (there is "
                "no container engine here to run it in); rehearse a configuration without it"
            )
            continue
        reason = cannot_run(function.runtime)
        if reason is not None:
            problems.append(f"function {key} runs {function.runtime}: {reason}")
        if function.layers:
            problems.append(
                f"function {key} has layers ({', '.join(function.layers)}), whose content is in "
                "AWS and not on this machine; rehearse it without layers, its dependencies in "
                "its release"
            )
    return problems


# The Change Calendar of a closed window (--outside-window).
FREEZE_CALENDAR = "rehearsal-change-freeze"
# Each release reaches the state machine after its build, which the emulator does not run:
# time passes as it would in CodeBuild.
BUILD_SECONDS = 300


def closed_windows(config: PipelineConfig, environments: tuple[str, ...]) -> PipelineConfig:
    """The config with these environments' deployment windows closed by a change freeze that
    has no end (their waits and everything else as configured)."""
    if not environments:
        return config

    def frozen(settings: Any) -> Any:
        window = settings.deployment_window or DeploymentWindow()
        return dataclasses.replace(
            settings, deployment_window=dataclasses.replace(window, change_calendar=FREEZE_CALENDAR)
        )

    if config.environments is not None:
        return dataclasses.replace(
            config,
            environments=tuple(
                frozen(e) if e.name in environments else e for e in config.environments
            ),
        )
    application = config.application
    if application.environments is not None:
        changed = tuple(
            frozen(e) if e.name in environments else e for e in application.environments
        )
        return dataclasses.replace(
            config, application=dataclasses.replace(application, environments=changed)
        )
    pair = {
        name: frozen(getattr(application, name))
        if name in environments
        else getattr(application, name)
        for name in ("staging", "production")
    }
    return dataclasses.replace(config, application=dataclasses.replace(application, **pair))


def rehearse(
    config: PipelineConfig,
    kinds: list[str],
    progress: Progress | None = None,
    approver: Approver | None = None,
    source: ReleaseSource | None = None,
    inspect: Callable[[emulated.EmulatedAccount], None] | None = None,
    conditions: Conditions | None = None,
    start: datetime.datetime | None = None,
    stack: Mapping[str, Any] | None = None,
) -> Rehearsal:
    """Release each kind of `source` (by default the sample app) in order (r2, r3, ...) after
    its r1 is live everywhere, in `conditions`, on the emulator's clock started at `start` (by
    default: now). When the config requires approval, `approver` answers for each release (by
    default: approve). `inspect` sees the emulated account at the end, before the emulator
    closes. The roles are allowed what `stack` (a synthesized cdk.tf.json of this config; by
    default synthesized here) allows them: a call it refuses raises PermissionDenied."""
    source = source or sample_app.SampleApp()
    conditions = conditions or Conditions()
    problems = condition_problems(config, kinds, conditions)
    if problems:
        raise ValueError("; ".join(problems))
    config = closed_windows(config, conditions.outside_window)
    unknown = [kind for kind in kinds if kind not in source.kinds]
    if unknown:
        raise ValueError(
            f"unknown release kind(s) {', '.join(unknown)}; valid kinds: {', '.join(source.kinds)}"
        )
    refused = [reason for kind in dict.fromkeys(kinds) if (reason := source.refusal(kind))]
    refused += function_problems(pipeline_layout(config).application)
    if refused:
        raise ValueError("; ".join(refused))
    report = progress or (lambda release, state, event: None)
    document = stack if stack is not None else emulated.synthesized(config)
    # The account once laid out: whose users keep using the application while it bakes.
    users: list[emulated.EmulatedAccount] = []
    with (
        CLOCK.starting_at(start) as started,
        quiet(),
        mock_aws(config=EMULATOR_CONFIG),
        in_process_lambda(),
        repeatable_executions(),
        virtual_waits(lambda state, seconds: _meanwhile(users, state)),
        virtual_timeouts(),
        trusted_roles_only(),
        alarm_history(),
        change_calendars(),
    ):
        account = emulated.create(config, source)
        users.append(account)
        _set_conditions(account, conditions)
        with (
            enforced(emulated.policies(account, document)) as enforcement,
            lambda_deployments(account.user_traffic) as deployments,
        ):
            utc = started.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
            rehearsal = Rehearsal(started_at=utc)
            for number, kind in enumerate(kinds, start=2):
                release = f"r{number}"
                rehearsal.releases.append(
                    _release(
                        account,
                        release,
                        kind,
                        report,
                        approver or (lambda _: "approve"),
                        progress is not None,
                        deployments,
                        enforcement,
                    )
                )
            rehearsal.live, rehearsal.functions = _live(account)
            rehearsal.notifications = account.notifications()
            if inspect is not None:
                inspect(account)
            return rehearsal


def _meanwhile(users: list[emulated.EmulatedAccount], state: str) -> None:
    """While a release bakes in an environment, its users go on using it."""
    for account in users:
        for environment in account.application.environments:
            if state == f"Bake{environment.title}":
                account.users_while_baking(environment.name)


def _set_conditions(account: emulated.EmulatedAccount, conditions: Conditions) -> None:
    """Alarms firing, windows closed and the line stopped, before the first release."""
    for name in conditions.alarm_firing:
        hold_in_alarm(
            *account.home(name),
            account.application.watched_alarms(name),
            "a dependency of the application is down",
        )
    for name in conditions.outside_window:
        set_calendar(*account.home(name), FREEZE_CALENDAR, "CLOSED")
    if conditions.line_stopped:
        layout = pipeline_layout(account.config)
        boto3.client("ssm", region_name=account.config.region).put_parameter(
            Name=layout.handlers.line_switch, Value="stopped", Type="String", Overwrite=True
        )


def _release(
    account: emulated.EmulatedAccount,
    release: str,
    kind: str,
    report: Progress,
    approver: Approver,
    watched: bool,
    deployments: DeploymentEmulator,
    enforcement: Enforcement,
) -> ReleaseOutcome:
    CLOCK.advance(BUILD_SECONDS)
    location = account.upload(release, account.source.release_zip(kind, release))
    execution = account.sfn.start_execution(
        stateMachineArn=account.state_machine_arn,
        name=f"release-{release}",
        input=json.dumps({"release": location}),
    )["executionArn"]
    if kind in ABORTS:
        deployments.started = _operator(account, execution, ABORTS[kind])
    path: list[str] = []
    seen, read_at = 0, 0.0
    answered: set[tuple[str, int]] = set()
    gates = any(seconds for _, seconds in account.application.stages())
    while True:
        status = account.sfn.describe_execution(executionArn=execution)["status"]
        if status != "RUNNING":
            break
        if enforcement.denials or enforcement.unmapped:
            # AWS would have refused a call: stop here, not after Rollback hits it again.
            _stop(account, execution)
            enforcement.check()
        if gates:
            _answer(account, release, f"release-{release}", approver, answered)
        # The history is read whole on every call, costing time the execution's own thread
        # needs: a few times a second while someone watches the progress, else at the end.
        if watched and time.monotonic() - read_at >= HISTORY_READ_SECONDS:
            read_at = time.monotonic()
            events = account.sfn.get_execution_history(executionArn=execution)["events"]
            seen = _report_events(events, seen, release, path, report)
        time.sleep(STATUS_READ_SECONDS)
    deployments.started = nobody_watches
    ended = account.sfn.describe_execution(executionArn=execution)
    cleanup: list[Any] = []
    if ended["status"] in CLEANUP_STATUSES:
        # What EventBridge does in AWS: the status change reaches the cleanup rule's target.
        cleanup = deliver(account.config.region, status_change(ended))
    enforcement.check()
    events = account.sfn.get_execution_history(executionArn=execution)["events"]
    _report_events(events, seen, release, path, report)
    failed_state, error, cause = _failure(path, events)
    live, functions = _live(account)
    return ReleaseOutcome(
        release=release,
        kind=kind,
        outcome="promoted" if status == "SUCCEEDED" else "rolled_back",
        failed_state=failed_state,
        error=error,
        cause=cause,
        path=path,
        live=live,
        functions=functions,
        rollback=_rollback(events) or _cleaned(cleanup),
    )


# How long a stopped execution may take to end: its running task (a handler) finishes first.
STOP_SECONDS = 120


def _stop(account: emulated.EmulatedAccount, execution: str) -> None:
    """Stop the execution and wait until moto's interpreter of it has ended: nothing of it may
    run after the emulator closes (its calls would go to AWS's real endpoints). A stopped
    execution starts no other state; the task in flight ends first. A task that waits (for a
    task token, a deployment) waits on the emulator's clock: while no function runs, its time
    passes, so that the wait ends and the interpreter sees the execution stopped."""
    account.sfn.stop_execution(
        executionArn=execution, error="PermissionDenied", cause="the stack's IAM policies refuse"
    )
    layout = pipeline_layout(account.config)
    functions = {
        *layout.handlers.functions.values(),
        *layout.handlers.placed_hooks.values(),
        layout.handlers.candidate_function,
        *(function.function_name for _, function in layout.application.targets()),
    }
    interpreters = [t for t in INTERPRETER_THREADS if t.name.endswith("(_execution_logic)")]
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        # The runtime runs each invocation in a thread named after its function.
        running = any(t.name in functions for t in threading.enumerate())
        if not running and not any(t.is_alive() for t in interpreters):
            return
        if not running:
            CLOCK.advance_to_next_deadline()
        time.sleep(STATUS_READ_SECONDS)


def _cleaned(answers: list[Any]) -> dict[str, dict[str, str]] | None:
    """What the cleanup rule's rollback did to each function, when it ran."""
    for answer in answers:
        if isinstance(answer, dict) and "environments" in answer:
            return _actions(answer)
    return None


def _actions(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Environment -> function -> what rollback's report says it did."""
    return {
        environment: {function: outcome["action"] for function, outcome in done.items()}
        for environment, done in report["environments"].items()
    }


def _rollback(events: list[dict[str, Any]]) -> dict[str, dict[str, str]] | None:
    """The Rollback task's report of each function, from the execution's history."""
    in_rollback = False
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details:
            in_rollback = details["name"] == "Rollback"
        elif in_rollback and event["type"] == "TaskSucceeded":
            # moto lets a task that ran past its TimeoutSeconds finish, and logs its success
            # after the state that caught the timeout was entered: the rollback's own report is
            # the one that lists the environments.
            payload = json.loads(event["taskSucceededEventDetails"]["output"])["Payload"]
            if isinstance(payload, dict) and "environments" in payload:
                return _actions(payload)
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


def _report_events(
    events: list[dict[str, Any]], seen: int, release: str, path: list[str], report: Progress
) -> int:
    """Report the events after the first `seen`; how many are seen now."""
    for index in range(seen, len(events)):
        previous = events[index - 1]["type"] if index else ""
        _report_event(events[index], previous, release, path, report)
    return len(events)


def _answer(
    account: emulated.EmulatedAccount,
    release: str,
    execution: str,
    approver: Approver,
    answered: set[tuple[str, int]],
) -> None:
    """Once an approval request is recorded, answer it as a person would: by invoking the
    approval function; or give no answer, and let the emulator's clock run to the approval's
    timeout (its configured value: hours pass in a moment). Each request is answered once, or
    again if the answer itself failed."""
    gate = account.approval_pending(execution)
    if gate is None or gate in answered:
        return
    environment, _ = gate
    decision = approver(release)
    if decision is None:
        answered.add(gate)
        CLOCK.advance_to_next_deadline()
        return
    answer = {
        "action": decision,
        "release_id": release,
        "execution": execution,
        "environment": environment,
    }
    response = account.lam.invoke(
        FunctionName=account.approval_function, Payload=json.dumps(answer).encode()
    )
    # A person whose command failed runs it again (the loop comes back while it still waits).
    if not response.get("FunctionError"):
        answered.add(gate)


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


def _operator(
    account: emulated.EmulatedAccount, execution: str, which: str
) -> Callable[[list[str]], None]:
    """An operator who stops the execution once the `which` ("first" or "last") environment's
    deployment shifts traffic."""
    place = account.application.environments[0 if which == "first" else -1]
    names = {f.function_name for f in place.functions}
    stopped: list[bool] = []

    def watch(function_names: list[str]) -> None:
        if not stopped and names & set(function_names):
            stopped.append(True)
            account.sfn.stop_execution(
                executionArn=execution,
                error="OperatorStopped",
                cause=f"stopped while {place.name} was deploying",
            )

    return watch


# What a release that ended outside the state machine's control reports as its error.
_ENDINGS = {"ExecutionAborted": "ExecutionAborted", "ExecutionTimedOut": "States.Timeout"}


def _failure(
    path: list[str], events: list[dict[str, Any]]
) -> tuple[str | None, str | None, str | None]:
    """The state whose error sent the execution to Rollback, that error and its cause; for an
    execution stopped or timed out, the state that was running and how it ended."""
    ending = next((event["type"] for event in events if event["type"] in _ENDINGS), None)
    if ending is not None:
        return (path[-1] if path else None), _ENDINGS[ending], None
    if "Rollback" not in path:
        return None, None, None
    failed = path[path.index("Rollback") - 1]
    for event in events:
        if event["type"] == "ExecutionFailed":
            details = event.get("executionFailedEventDetails", {})
            return failed, details.get("error"), _message(details.get("cause"))
    return failed, None, None


def _message(cause: str | None) -> str | None:
    """A Lambda task's cause is the function's error as JSON; a person reads its message."""
    try:
        error = json.loads(cause or "")
    except json.JSONDecodeError:
        return cause
    message = error.get("errorMessage") if isinstance(error, dict) else None
    return message if isinstance(message, str) else cause

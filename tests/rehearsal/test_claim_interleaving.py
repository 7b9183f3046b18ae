"""Two executions against one pipeline, rehearsed: the real state machine and handlers on the
emulator, releasing a small Python service through staging and production, where it bakes. A
second execution started while the first bakes in production waits for the claim (a BakeAlarm
there would still restore every environment), and an execution whose status change event never
reached the cleanup rule is cleaned up by the next execution's claim."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from serverless_pipeline.config import PipelineConfig
from serverless_pipeline.emulator.clock import CLOCK
from serverless_pipeline.handlers import records
from serverless_pipeline.handlers.settings import load
from serverless_pipeline.rehearsal import account as emulated
from serverless_pipeline.rehearsal import runner
from tests.rehearsal.crash_drills import drill_app, drill_config

# Slow: left out of `make test-fast`.
pytestmark = pytest.mark.slow

# How long (real seconds) the test waits for the emulator before it gives up.
PATIENCE_SECONDS = 120
ENVIRONMENTS = ("staging", "production")


def service_config() -> PipelineConfig:
    """The crash drills' service without their approval (nobody answers for a second
    execution), baking 10 minutes in production."""
    config = drill_config()
    application = config.application
    production = dataclasses.replace(application.production, bake_minutes=10)
    return dataclasses.replace(
        config,
        application=dataclasses.replace(application, production=production),
        approval_timeout_seconds=None,
    )


def rehearse(directory: Path, kinds: list[str], **options: Any) -> runner.Rehearsal:
    config = service_config()
    return runner.rehearse(config, kinds, source=drill_app(directory, config), **options)


def history(account: emulated.EmulatedAccount, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = account.sfn.get_execution_history(executionArn=arn)["events"]
    return events


def claim_refusals(events: list[dict[str, Any]]) -> list[str]:
    """The causes of the ClaimPipeline attempts that failed with ExecutionInProgress."""
    return [
        json.loads(details["cause"])["errorMessage"]
        for event in events
        if event["type"] == "TaskFailed"
        and (details := event["taskFailedEventDetails"])["error"] == "ExecutionInProgress"
    ]


def path_of(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")
    ]


def claimed_or_refused(events: list[dict[str, Any]]) -> bool:
    """Whether the execution's first claim has an outcome: refused, or past it."""
    return bool(claim_refusals(events)) or "ValidateCode" in path_of(events)


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def running(account: emulated.EmulatedAccount, arn: str) -> bool:
    return bool(account.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING")


@pytest.fixture
def retries_wait_for_first() -> Iterator[threading.Event]:
    """moto sleeps through a Retry's interval in real time: here the interval passes on the
    emulator's clock, and the retry comes once the event is set (the first execution ended),
    so that the test needs neither minutes nor luck."""
    ended = threading.Event()

    def sleep(seconds: float) -> None:
        CLOCK.advance(seconds)
        ended.wait(PATIENCE_SECONDS)

    with mock.patch.object(retrier_decl, "time", mock.Mock(sleep=sleep)):
        yield ended


def test_a_second_execution_started_during_the_last_bake_waits_for_the_claim(
    retries_wait_for_first: threading.Event, tmp_path: Path
) -> None:
    second: dict[str, Any] = {}
    original = runner._meanwhile

    def meanwhile(users: list[emulated.EmulatedAccount], state: str) -> None:
        original(users, state)
        if state != "BakeProduction" or second:
            return
        # r2 bakes in production: r3 is started beside it, and gets its first answer.
        (account,) = users
        location = account.upload("r3", account.source.release_zip("ok", "r3"))
        second["arn"] = account.sfn.start_execution(
            stateMachineArn=account.state_machine_arn,
            name="release-r3",
            input=json.dumps({"release": location}),
        )["executionArn"]
        until(lambda: claimed_or_refused(history(account, second["arn"])), "r3's claim")
        second["during_bake"] = claim_refusals(history(account, second["arn"]))

    def inspect(account: emulated.EmulatedAccount) -> None:
        retries_wait_for_first.set()
        until(lambda: not running(account, second["arn"]), "r3 to end")
        second["status"] = account.sfn.describe_execution(executionArn=second["arn"])["status"]
        events = history(account, second["arn"])
        second["path"], second["refusals"] = path_of(events), claim_refusals(events)
        second["live"] = {e: set(account.functions_live(e).values()) for e in ENVIRONMENTS}

    with mock.patch.object(runner, "_meanwhile", meanwhile):
        rehearsal = rehearse(tmp_path, ["ok"], inspect=inspect)
    (first,) = rehearsal.releases
    assert first.outcome == "promoted"
    assert first.path[-4:] == ["BakeProduction", "CheckProductionBake", "NotifyPromoted", "Success"]
    # While r2 baked, r3 was refused: r2 held the pipeline until its bake was checked.
    (refusal,) = second["during_bake"]
    assert refusal.startswith("execution release-r2 is running and holds the pipeline")
    # Then r3 claimed it on its retry, after r2 had ended, and went through.
    assert second["status"] == "SUCCEEDED"
    assert second["refusals"] == second["during_bake"]
    assert second["path"][:3] == ["Configure", "ClaimPipeline", "ValidateCode"]
    assert second["live"] == {environment: {"r3"} for environment in ENVIRONMENTS}


def test_a_lost_status_change_is_cleaned_up_by_the_next_claim(tmp_path: Path) -> None:
    # Step Functions' status change events reach EventBridge at best effort (EventBridge
    # events reference, "AWS Step Functions events": Step Functions Execution Status Change,
    # "Delivery type: Best effort"; docs.aws.amazon.com/eventbridge/latest/ref/
    # events-ref-states.html). Here the one of the aborted r2 is lost: the cleanup rule never
    # runs, and r3's ClaimPipeline restores what r2 left before it takes the pipeline.
    records_of_r2: list[str] = []

    def inspect(account: emulated.EmulatedAccount) -> None:
        variables = account.lam.get_function_configuration(
            FunctionName=account.config.name + "-promote"
        )["Environment"]["Variables"]
        for environment in load(variables).environments:
            for target in environment.targets:
                record = records.read_deployment(account.s3, target, "release-r2")
                if record is not None:
                    records_of_r2.append(f"{target.function_name}: {record.state}")

    with mock.patch.object(runner, "deliver", lambda region, event: []):
        rehearsal = rehearse(tmp_path, ["abort-production", "ok"], inspect=inspect)
    aborted, next_release = rehearsal.releases
    assert aborted.error == "ExecutionAborted"
    # Nothing cleaned up after r2 when it ended: staging still served it.
    assert aborted.rollback is None
    assert aborted.live["staging"] == "r2"
    # r3 claimed at its first attempt, having restored r2's functions, and went live.
    assert next_release.outcome == "promoted"
    assert next_release.path.count("ClaimPipeline") == 1
    assert rehearsal.live == {"staging": "r3", "production": "r3"}
    assert records_of_r2 and all(r.endswith(": rolled_back") for r in records_of_r2)
    (restored,) = [n for n in rehearsal.notifications if n.get("execution") == "release-r2"]
    assert (restored["status"], restored["outcome"]) == ("ABORTED", "rolled_back")
    assert "staging" in restored["restored"]

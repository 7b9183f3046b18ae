"""Crash drills: a release while the Nth AWS call that one handler's code makes dies.

The handler dies the way a crash or a timeout kills it: an exception that is not an AWS error,
at a call it made itself (the emulator's own calls, such as the metrics of the traffic it sends,
are not the handler's and are not counted). The state machine then goes on as it would in AWS:
a retry, a Catch into Rollback, or the cleanup rule. `check` says whether every environment
ended on one known release, and every record agrees with what is live.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from botocore.client import BaseClient

from serverless_pipeline.application_settings import (
    SMOKE_TESTS,
    ApplicationProps,
    EnvironmentSettings,
)
from serverless_pipeline.config import PipelineConfig
from serverless_pipeline.handlers import records
from serverless_pipeline.handlers.settings import load
from serverless_pipeline.layout import pipeline_layout
from serverless_pipeline.rehearsal import account as emulated
from serverless_pipeline.rehearsal import runner
from serverless_pipeline.rehearsal.user_app import UserApp
from tests.rehearsal.shop_service import write_service

EMULATOR = str(Path(emulated.__file__).parents[1] / "emulator")
MUTATING = ("promote", "rollback", "approval", "traffic-hook")


def drill_config() -> PipelineConfig:
    """Both environments all at once with the smoke hook, and an approval before production:
    every mutating handler takes part in a healthy release."""
    hooked = EnvironmentSettings(
        "CodeDeployDefault.LambdaAllAtOnce", before_allow_traffic=SMOKE_TESTS
    )
    return PipelineConfig(
        name="shop",
        region="eu-west-1",
        application=ApplicationProps(
            name="shop-api", handler="service.api.handler", staging=hooked, production=hooked
        ),
        approval_timeout_seconds=3600,
    )


def drill_app(directory: Path, config: PipelineConfig) -> UserApp:
    write_service(directory)
    return UserApp(directory, pipeline_layout(config).application, config.test_manifest)


class Crash(RuntimeError):
    """The handler died here (not an AWS error: a crash or a timeout would look like this)."""


@dataclass
class Calls:
    """AWS calls made by each handler's own code, in order; the one to crash at, if any."""

    crash_handler: str | None = None
    crash_at: int = 0
    made: dict[str, int] = field(default_factory=dict)
    crashed: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler_of_caller(self) -> str | None:
        """Which pipeline handler's code made the current call; None for anything else (the
        emulator, the rehearsal, application code)."""
        name = threading.current_thread().name
        handler = next((h for h in MUTATING if name.endswith(f"-{h}")), None)
        if handler is None:
            return None
        frame = sys._getframe(2)
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename.startswith(EMULATOR):
                return None
            if "/handlers/" in filename and "lambda-runtime-" in filename:
                return handler
            frame = frame.f_back  # type: ignore[assignment]
        return None

    def count(self, operation: str) -> None:
        handler = self.handler_of_caller()
        if handler is None:
            return
        with self.lock:
            self.made[handler] = self.made.get(handler, 0) + 1
            number = self.made[handler]
        if handler == self.crash_handler and number == self.crash_at and self.crashed is None:
            self.crashed = f"{handler} call {number} ({operation})"
            raise Crash(f"crash drill: {handler} died at its call {number}, {operation}")


@contextlib.contextmanager
def counted(calls: Calls) -> Iterator[Calls]:
    original = BaseClient._make_api_call

    def make_api_call(client: Any, operation: str, params: Any) -> Any:
        calls.count(operation)
        return original(client, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", make_api_call):
        yield calls


@dataclass
class Outcome:
    release: runner.ReleaseOutcome
    problems: list[str]


def run(directory: Path, kind: str, calls: Calls) -> Outcome:
    """One release of `kind` under `calls`, and what is inconsistent at its end."""
    config = drill_config()
    app = drill_app(directory / uuid.uuid4().hex[:8], config)
    seen: list[str] = []

    def inspect(account: emulated.EmulatedAccount) -> None:
        seen.extend(check(account, "release-r2"))

    with counted(calls):
        rehearsal = runner.rehearse(config, [kind], source=app, inspect=inspect)
    return Outcome(rehearsal.releases[0], seen)


def check(account: emulated.EmulatedAccount, execution: str) -> list[str]:
    """Every environment on one known release; every record of the execution settled and in
    agreement with what its function serves; the pipeline's claim released."""
    problems = []
    known = {"r1", "r2"}
    for environment in account.application.environment_names:
        served = set(account.functions_live(environment).values())
        if len(served) != 1 or not served <= known:
            problems.append(f"{environment} serves {sorted(map(str, served))}")
    variables = account.lam.get_function_configuration(
        FunctionName=account.config.name + "-promote"
    )["Environment"]["Variables"]
    settings = load(variables)
    for environment in settings.environments:
        live = account.functions_live(environment.name)
        for target in environment.targets:
            record = records.read_deployment(account.s3, target, execution)
            if record is None:
                continue
            serving = live[target.function]
            if record.state in ("started", "deploying"):
                problems.append(f"{target.function_name}: record still {record.state}")
            elif record.state == "rolled_back" and serving != record.previous_release:
                problems.append(f"{target.function_name}: rolled back but serves {serving}")
            elif record.state == "deployed" and serving != record.release_id:
                problems.append(f"{target.function_name}: deployed but serves {serving}")
    claim = records.load(account.s3, settings.claim_bucket, records.CLAIM_KEY)
    if claim is not None and claim[0].get("state") != "released":
        problems.append(f"the pipeline is still claimed by {claim[0].get('execution')}")
    return problems


# The release each handler's drills crash: promote, approval and the traffic hook take part in
# a healthy release; rollback in one that fails in production.
BASES = {"promote": "ok", "approval": "ok", "traffic-hook": "ok", "rollback": "production-deploy"}


def every_crash_of(handler: str, directory: Path) -> dict[str, int]:
    """Crash `handler` at each of the calls its code makes in its base release, one release
    per crash; fail naming every crash that left something inconsistent. Returns how the
    releases ended (outcome -> count), also written to DRILL_REPORT for the docs."""
    base = Calls()
    assert run(directory, BASES[handler], base).problems == []
    made = base.made.get(handler, 0)
    assert made, f"{handler} makes no AWS call in a {BASES[handler]} release"
    outcomes: dict[str, int] = {}
    failures = []
    for n in range(1, made + 1):
        # Every run must end consistent. A run that ended before the handler reached call n
        # runs once more, so that each crash point is exercised (seen once in about 300 runs:
        # a release failed at DeployProduction before its crash point, and ended consistent;
        # the cause is not found yet).
        for _ in range(2):
            calls = Calls(crash_handler=handler, crash_at=n)
            outcome = run(directory, BASES[handler], calls)
            if outcome.problems:
                failures.append(f"{calls.crashed or f'call {n} not reached'}: {outcome.problems}")
            if calls.crashed:
                break
        else:
            failures.append(
                f"{handler} never reached its call {n}: the release ended "
                f"{outcome.release.outcome} at {outcome.release.failed_state} "
                f"({outcome.release.error})"
            )
        outcomes[outcome.release.outcome] = outcomes.get(outcome.release.outcome, 0) + 1
    report = {"handler": handler, "base": BASES[handler], "drills": made, "outcomes": outcomes}
    print(json.dumps(report, sort_keys=True))
    assert failures == []
    return outcomes

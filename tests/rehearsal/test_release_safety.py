"""The release-safety gates rehearsed: a release that fails while it bakes, an environment whose
alarms already fire, a closed deployment window and a stopped line each end rolled back with
their named error."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from moto.cloudwatch.models import CloudWatchBackend

from serverless_pipeline.cli import main
from serverless_pipeline.emulator.clock import CLOCK
from serverless_pipeline.example import example_config
from serverless_pipeline.layout import pipeline_layout
from serverless_pipeline.rehearsal.conditions import Conditions
from serverless_pipeline.rehearsal.runner import rehearse

# Slow: left out of `make test-fast`.
pytestmark = pytest.mark.slow


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, dict[str, Any]]:
    code = main(["rehearse", *arguments, "--json"])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, document


def test_a_release_that_fails_while_it_bakes_rolls_back_everywhere(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document = run(capsys, "ok", "production-bake", "ok")
    assert code == 1
    baked = document["releases"][1]
    assert (baked["failed_state"], baked["error"]) == ("CheckProductionBake", "BakeAlarm")
    # Its canary passed: it went live in production, then came back everywhere.
    assert "CheckProductionDeployment" in baked["path"]
    assert baked["rollback"] == {
        "production": {"api": "restored", "worker": "restored", "notifier": "restored"},
        "staging": {"api": "restored", "worker": "restored", "notifier": "restored"},
    }
    assert baked["live"] == {"staging": "r2", "production": "r2"}
    assert document["live"] == {"staging": "r4", "production": "r4"}
    assert document["releases"][2]["outcome"] == "promoted"


def condition(conditions: Conditions) -> Any:
    rehearsal = rehearse(example_config(), ["ok"], conditions=conditions)
    (release,) = rehearsal.releases
    return release, rehearsal.notifications


def test_an_environment_whose_alarms_fire_is_not_deployed() -> None:
    release, heard = condition(Conditions(alarm_firing=("production",)))
    assert (release.failed_state, release.error) == ("CheckProductionGates", "AlarmBlocked")
    functions = ("api", "worker", "notifier")
    assert release.rollback["production"] == dict.fromkeys(functions, "untouched")
    assert release.rollback["staging"] == dict.fromkeys(functions, "restored")
    assert release.live == {"staging": "r1", "production": "r1"}
    (rolled_back,) = [n for n in heard if n.get("outcome") == "rolled_back"]
    assert "orders-api-production-errors" in rolled_back["cause"]


def test_a_closed_window_is_waited_for_then_rolls_back() -> None:
    release, heard = condition(Conditions(outside_window=("production",)))
    assert (release.failed_state, release.error) == (
        "CheckProductionGates",
        "OutsideDeploymentWindow",
    )
    # It waited (without polling: one look an hour) the configured day before it gave up.
    looks = release.path.count("CheckProductionGates")
    assert looks == 25
    (waiting,) = [n for n in heard if n.get("outcome") == "waiting"]
    assert waiting["environment"] == "production"
    assert waiting["reason"] == "outside its deployment window"
    assert release.live == {"staging": "r1", "production": "r1"}


def test_a_stopped_line_holds_every_release_before_its_first_environment() -> None:
    release, heard = condition(Conditions(line_stopped=True))
    assert (release.failed_state, release.error) == ("CheckStagingGates", "LineStopped")
    assert release.rollback == {
        "production": {"api": "untouched", "worker": "untouched", "notifier": "untouched"},
        "staging": {"api": "untouched", "worker": "untouched", "notifier": "untouched"},
    }
    (waiting,) = [n for n in heard if n.get("outcome") == "waiting"]
    assert waiting["reason"] == "the line is stopped"


def test_conditions_that_name_no_environment_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rehearse", "ok", "--alarm-firing", "qa"]) == 2
    assert "--alarm-firing names 'qa'" in capsys.readouterr().err


def test_a_gate_that_outlasts_its_task_timeout_rolls_back_with_that_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CheckProductionGates runs past its TimeoutSeconds (here: CloudWatch answers its look at
    the alarms only after the task's time is up). Step Functions fails the task with
    States.Timeout, whose cause is optional (Step Functions API reference,
    TaskTimedOutEventDetails) and which moto, like AWS, may leave out, and whose name a Fail
    state may not carry. The rollback, its notification and ReleaseFailed still name the error,
    where the definition that read $.error.Cause and failed with $.error.Error ended the
    execution with States.Runtime instead."""
    config = example_config()
    timeout = pipeline_layout(config).handlers.task_timeout_seconds
    original, slowed = CloudWatchBackend.get_alarms_by_alarm_names, []

    def slow(backend: CloudWatchBackend, alarm_names: list[str]) -> Any:
        if not slowed and any("-production-" in name for name in alarm_names):
            slowed.append(alarm_names)
            CLOCK.advance(timeout + 60)
            # The answer comes after the task's wait (which looks at the clock every 10 ms) has
            # seen its time run out.
            time.sleep(0.2)
        return original(backend, alarm_names)

    monkeypatch.setattr(CloudWatchBackend, "get_alarms_by_alarm_names", slow)
    rehearsal = rehearse(config, ["ok"])
    (release,) = rehearsal.releases
    assert slowed
    # The execution ends as Release.Timeout: a Fail state may not name a States. error.
    assert (release.failed_state, release.error) == ("CheckProductionGates", "Release.Timeout")
    assert release.cause == "States.Timeout: Step Functions gave no cause"
    assert release.live == {"staging": "r1", "production": "r1"}
    (rolled_back,) = [n for n in rehearsal.notifications if n.get("outcome") == "rolled_back"]
    assert (rolled_back["error"], rolled_back["failed_state"]) == (
        "States.Timeout",
        "CheckProductionGates",
    )

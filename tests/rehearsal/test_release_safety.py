"""The release-safety gates rehearsed: a release that fails while it bakes, an environment whose
alarms already fire, a closed deployment window and a stopped line each end rolled back with
their named error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from serverless_pipeline.cli import main
from serverless_pipeline.example import example_config
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

"""The command line around the rehearsal: a clock you can pin, the user's own diagram, and a
configuration checked whole before anything runs."""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline import (
    ApplicationProps,
    DeploymentWindow,
    Environment,
    FunctionSettings,
    PipelineConfig,
)
from serverless_pipeline.cli import EXIT_USAGE, main
from serverless_pipeline.example import example_config
from serverless_pipeline.layout import pipeline_layout
from serverless_pipeline.rehearsal.runner import rehearse
from serverless_pipeline.rehearsal.user_app import open_app

CONFIG = """
from serverless_pipeline import ApplicationProps, Environment, FunctionSettings, PipelineConfig

def config():
    return PipelineConfig(
        name="shop",
        region={region!r},
        application=ApplicationProps(
            name="shop",
            functions={{"api": FunctionSettings(handler={handler!r})}},
        ),
        environments=(Environment("dev"), Environment("qa"), Environment("live")),
    )
"""


def config_module(tmp_path: Path, region: str = "eu-west-1", handler: str = "app.handler") -> str:
    module = f"pipeline_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(CONFIG.format(region=region, handler=handler))
    return f"{module}:config"


def mon_to_thu() -> Any:
    """The example with production open Monday to Thursday, 08:00-18:00 in Berlin."""
    config = example_config()
    staging, production = config.environments or ()
    window = DeploymentWindow(
        days=("Mon", "Tue", "Wed", "Thu"), start="08:00", end="18:00", time_zone="Europe/Berlin"
    )
    return dataclasses.replace(
        config,
        environments=(staging, dataclasses.replace(production, deployment_window=window)),
    )


@pytest.mark.slow
def test_a_pinned_start_gives_the_same_outcome_on_every_day() -> None:
    monday = datetime.datetime(2027, 1, 4, 9, 0, tzinfo=datetime.UTC)
    friday = datetime.datetime(2027, 1, 8, 9, 0, tzinfo=datetime.UTC)
    on_monday = rehearse(mon_to_thu(), ["ok"], start=monday)
    on_friday = rehearse(mon_to_thu(), ["ok"], start=friday)
    assert on_monday.started_at == "2027-01-04T09:00:00Z"
    assert on_monday.releases[0].outcome == "promoted"
    # Friday's release waits for Monday 08:00, more than the window's 24 hours of waiting.
    assert on_friday.started_at == "2027-01-08T09:00:00Z"
    failed = on_friday.releases[0]
    assert (failed.failed_state, failed.error) == (
        "CheckProductionGates",
        "OutsideDeploymentWindow",
    )
    assert failed.cause is not None and "opens at 2027-01-11T07:00:00+00:00" in failed.cause


def test_a_start_that_is_no_time_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rehearse", "ok", "--start", "next monday"])
    assert exited.value.code == EXIT_USAGE
    assert "'next monday' is not an ISO 8601 time" in capsys.readouterr().err


def test_the_diagram_of_your_own_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["diagram", "--config", config_module(tmp_path)]) == 0
    chart = capsys.readouterr().out
    for state in ("DeployDev", "RunTestsInDev", "DeployQa", "RunTestsInQa", "DeployLive"):
        assert f'    {state}["{state}"]' in chart
    assert "DeployStaging" not in chart


def test_every_problem_of_a_config_is_named_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = config_module(tmp_path, region="eu-west-9", handler="app")
    assert main(["rehearse", "ok", "--config", spec]) == EXIT_USAGE
    error = capsys.readouterr().err
    # The application's handler and the stack's region, in one message.
    assert "2 invalid setting(s)" in error
    assert "  - functions['api'].handler is 'app'" in error
    assert "  - region is 'eu-west-9'; expected an AWS region" in error


def test_a_staging_drill_names_the_cases_that_count(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "worker.py").write_text("def handler(event, context):\n    return 2\n")
    smoke_only = {"name": "w", "function": "worker", "event": {}, "expected": 2}
    cases = [
        {"name": "a", "event": {}, "expected": 1},
        {**smoke_only, "stages": ["candidate", "smoke"]},
    ]
    (tmp_path / "release-tests.json").write_text(json.dumps({"cases": cases}))
    config = PipelineConfig(
        name="shop",
        region="eu-west-1",
        application=ApplicationProps(
            name="shop",
            functions={
                "api": FunctionSettings(handler="app.handler"),
                "worker": FunctionSettings(handler="worker.handler"),
            },
        ),
        environments=(Environment("qa"), Environment("live")),
    )
    app = open_app(str(tmp_path), pipeline_layout(config).application, "release-tests.json")
    assert app.refusal("worker-staging-tests") == (
        "worker-staging-tests gives worker wrong answers in qa to the events of its "
        "RunTestsInQa cases, and it has none: a case counts with stage staging and without "
        "stage smoke (smoke cases run in the deployment's hook, where this drill does not "
        "break them)"
    )

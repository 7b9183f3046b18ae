"""Rehearsing your own application and configuration: an app directory and a config module
written here, not the example; every drill injects a real defect into a copy of the code."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline.cli import EXIT_ROLLED_BACK, EXIT_USAGE, main
from tests.rehearsal.shop_service import write_service

# A canary of 15 minutes through a custom TrafficShift, an approval of 4 hours before
# production, and the library's smoke hook in both environments.
CONFIG = """
from serverless_pipeline import (
    SMOKE_TESTS, AlarmSettings, ApplicationProps, EnvironmentSettings, PipelineConfig,
    TrafficShift,
)

def config():
    return PipelineConfig(
        name="shop",
        region="eu-west-1",
        application=ApplicationProps(
            name="shop-api",
            handler="service.api.handler",
            staging=EnvironmentSettings(
                "CodeDeployDefault.LambdaAllAtOnce",
                {{"STAGE": "staging"}},
                alarms=AlarmSettings(enabled={alarms}),
                before_allow_traffic={hook},
            ),
            production=EnvironmentSettings(
                TrafficShift("canary", percentage=10, interval_minutes=15),
                {{"STAGE": "production"}},
                before_allow_traffic={hook},
                bake_minutes={bake},
            ),
        ),
        approval_timeout_seconds=4 * 3600,
    )

not_a_config = 42
"""


def project(
    tmp_path: Path, *, alarms: bool = True, hook: str = "SMOKE_TESTS", bake: int = 0
) -> str:
    """An application directory (src/) and a config module; returns the --config value."""
    write_service(tmp_path / "src")
    # A module name of its own per test: a module, once imported, stays in sys.modules.
    module = f"pipeline_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(CONFIG.format(alarms=alarms, hook=hook, bake=bake))
    return f"{module}:config"


def rehearse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, *args: str
) -> tuple[int, Any, str]:
    monkeypatch.chdir(tmp_path)
    code = main(["rehearse", *args])
    captured = capsys.readouterr()
    document = json.loads(captured.out) if "--json" in args and code in (0, 1) else None
    return code, document, captured.err


@pytest.mark.slow
def test_every_drill_of_your_own_app_ends_as_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    config = project(tmp_path)
    kinds = ["ok", "validate", "unit-tests", "staging-tests", "staging-deploy"]
    kinds += ["production-deploy", "ok"]
    code, document, _ = rehearse(
        tmp_path, monkeypatch, capsys, *kinds, "--app", "src", "--config", config, "--json"
    )
    assert code == EXIT_ROLLED_BACK
    outcomes = [
        (r["kind"], r["outcome"], r["failed_state"], r["error"]) for r in document["releases"]
    ]
    assert outcomes == [
        ("ok", "promoted", None, None),
        ("validate", "rolled_back", "ValidateCode", "SourceDoesNotCompile"),
        ("unit-tests", "rolled_back", "RunTests", "TestCasesFailed"),
        ("staging-tests", "rolled_back", "RunTestsInStaging", "TestCasesFailed"),
        # The smoke hook runs the ping against the new version before it gets traffic.
        ("staging-deploy", "rolled_back", "CheckStagingDeployment", "DeploymentFailed"),
        ("production-deploy", "rolled_back", "CheckProductionDeployment", "DeploymentFailed"),
        ("ok", "promoted", None, None),
    ]
    for release in document["releases"][1:-1]:
        assert release["live"] == {"staging": "r2", "production": "r2"}
    assert document["live"] == {"staging": "r8", "production": "r8"}
    promoted = document["releases"][0]["path"]
    # The configured values, emulated: the approval waited (and was given), and the 15-minute
    # canary was polled every 30 s, as in AWS: one check starts it, thirty more see it through.
    assert "WaitForApproval" in promoted
    assert promoted.count("CheckProductionDeployment") == 1 + 15 * 60 // 30


@pytest.mark.slow
def test_the_first_release_is_your_code_and_a_rollback_returns_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    config = project(tmp_path)
    code, document, _ = rehearse(
        tmp_path,
        monkeypatch,
        capsys,
        "production-deploy",
        "--app",
        "src",
        "--config",
        config,
        "--json",
    )
    assert code == EXIT_ROLLED_BACK
    assert document["live"] == {"staging": "r1", "production": "r1"}
    assert document["functions"] == {
        "staging": {"shop-api": "r1"},
        "production": {"shop-api": "r1"},
    }


def test_a_drill_that_nothing_would_catch_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # No alarms and no hook in staging: a release that fails there deploys unnoticed, so the
    # drill would prove nothing.
    config = project(tmp_path, alarms=False, hook="None")
    code, _, error = rehearse(
        tmp_path, monkeypatch, capsys, "staging-deploy", "--app", "src", "--config", config
    )
    assert code == EXIT_USAGE
    assert "staging-deploy makes shop-api fail in staging, and nothing would catch it" in error


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--app", "missing"], "--app missing: no such directory"),
        (["--config", "nowhere:config"], "module 'nowhere' does not import"),
        (["--config", "{module}:not_a_config"], "'not_a_config' is a int, not a PipelineConfig"),
        (["--config", "{module}:absent"], "has no 'absent'"),
        (["--config", "{module}"], "expected MODULE:ATTR"),
        (["--app", "src/service"], "has no handler module for function(s) shop-api"),
        (["explode"], "unknown release kind 'explode'"),
    ],
)
def test_what_cannot_be_rehearsed_is_a_usage_error_that_says_why(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    arguments: list[str],
    message: str,
) -> None:
    config = project(tmp_path)
    module = config.split(":")[0]
    defaults = {"--app": "src", "--config": config}
    given = [a.format(module=module) for a in arguments]
    for option, value in defaults.items():
        if option not in given:
            given += [option, value]
    code, _, error = rehearse(tmp_path, monkeypatch, capsys, *given)
    assert code == EXIT_USAGE
    assert message in error


@pytest.mark.slow
def test_a_leak_in_your_own_app_is_found_while_it_bakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """production-bake passes the smoke hook and the canary and fails under the users who keep
    coming while the release bakes: found at the bake, not at the deployment."""
    config = project(tmp_path, bake=10)
    code, document, _ = rehearse(
        tmp_path, monkeypatch, capsys, "production-bake", "--app", "src", "--config", config,
        "--json",
    )
    assert code == EXIT_ROLLED_BACK
    (release,) = document["releases"]
    assert (release["failed_state"], release["error"]) == ("CheckProductionBake", "BakeAlarm")
    assert "DeployProduction" in release["path"]
    assert document["live"] == {"staging": "r1", "production": "r1"}

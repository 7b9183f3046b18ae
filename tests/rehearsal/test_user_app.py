"""Rehearsing your own application and configuration: an app directory and a config module
written here, not the example; every drill injects a real defect into a copy of the code."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline.cli import EXIT_ROLLED_BACK, EXIT_USAGE, load_config, main
from serverless_pipeline.layout import pipeline_layout
from serverless_pipeline.rehearsal.user_app import AppError, UserApp
from tests.rehearsal.shop_service import SERVICE, write_service

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
        tmp_path,
        monkeypatch,
        capsys,
        "production-bake",
        "--app",
        "src",
        "--config",
        config,
        "--json",
    )
    assert code == EXIT_ROLLED_BACK
    (release,) = document["releases"]
    assert (release["failed_state"], release["error"]) == ("CheckProductionBake", "BakeAlarm")
    assert "DeployProduction" in release["path"]
    assert document["live"] == {"staging": "r1", "production": "r1"}


def service_importing(module: str) -> str:
    """The service's handler module, importing `module` first."""
    return f"import {module}\n\n\n" + SERVICE.lstrip()


def wheel(directory: Path) -> Path:
    """A tiny pure-Python package, shopfmt 1.0, as a wheel file in `directory`: pip installs it
    from its path, without an index."""
    files = {
        "shopfmt/__init__.py": b'def money(amount):\n    return f"{amount:.2f}"\n',
        "shopfmt-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: shopfmt\nVersion: 1.0\n",
        "shopfmt-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    digests = {
        name: base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        for name, data in files.items()
    }
    record = [f"{name},sha256={digests[name]},{len(data)}" for name, data in files.items()]
    files["shopfmt-1.0.dist-info/RECORD"] = "\n".join(
        [*record, "shopfmt-1.0.dist-info/RECORD,,"]
    ).encode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "shopfmt-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@pytest.mark.slow
def test_a_module_no_requirement_brings_fails_the_release_where_lambda_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """PyYAML is in the rehearsal's own environment (moto brings it), not in the release: the
    candidate tests, the first to load the code, fail it as Lambda does."""
    config = project(tmp_path)
    (tmp_path / "src" / "service" / "api.py").write_text(service_importing("yaml"))
    code, document, _ = rehearse(
        tmp_path, monkeypatch, capsys, "ok", "--app", "src", "--config", config, "--json"
    )
    assert code == EXIT_ROLLED_BACK
    (release,) = document["releases"]
    assert (release["failed_state"], release["error"]) == ("RunTests", "TestCasesFailed")
    assert (
        "Runtime.ImportModuleError: Unable to import module 'service.api': "
        "No module named 'yaml'" in release["cause"]
    )
    assert document["live"] == {"staging": "r1", "production": "r1"}


@pytest.mark.slow
def test_the_repositorys_requirements_go_into_each_release_as_the_build_installs_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    config = project(tmp_path)
    (tmp_path / "src" / "service" / "api.py").write_text(service_importing("shopfmt"))
    wheel(tmp_path / "wheels")
    # The repository root's requirements.txt (the directory the rehearsal runs in), installed as
    # the build installs it: `pip install -r requirements.txt -t`, run there.
    (tmp_path / "requirements.txt").write_text("./wheels/shopfmt-1.0-py3-none-any.whl\n")
    code, document, error = rehearse(
        tmp_path, monkeypatch, capsys, "ok", "--app", "src", "--config", config, "--json"
    )
    assert code == 0, error
    assert document["live"] == {"staging": "r2", "production": "r2"}


def test_a_release_holds_its_requirements_packages_beside_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_service(tmp_path / "src")
    wheel(tmp_path / "wheels")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("./wheels/shopfmt-1.0-py3-none-any.whl\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(project(tmp_path))
    app = UserApp(
        tmp_path / "src", pipeline_layout(config).application, config.test_manifest, requirements
    )
    names = zipfile.ZipFile(io.BytesIO(app.release_zip("ok", "r2"))).namelist()
    assert {"service/api.py", "release-tests.json", "shopfmt/__init__.py"} <= set(names)
    assert "shopfmt-1.0.dist-info/METADATA" in names
    # pip compiles bytecode, which the build removes.
    assert not [name for name in names if "__pycache__" in name]
    # A requirement pip cannot install fails as the build would, before anything runs.
    requirements.write_text("./wheels/absent-1.0-py3-none-any.whl\n")
    with pytest.raises(AppError, match="pip install -r requirements.txt -t failed"):
        UserApp(
            tmp_path / "src",
            pipeline_layout(config).application,
            config.test_manifest,
            requirements,
        )

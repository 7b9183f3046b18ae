"""The library works from its built wheel, in a fresh virtual environment, outside this repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from serverless_pipeline import __version__
from tests.conftest import ROOT

# Slow: left out of `make test-fast`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_the_handlers_asl_node_hook_and_type_marker(wheel: Path) -> None:
    assert wheel.name == f"cdktf_serverless_pipeline-{__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    for expected in (
        "serverless_pipeline/asl/deployment.asl.json",
        "serverless_pipeline/handlers/promote.py",
        "serverless_pipeline/handlers/errors.py",
        "serverless_pipeline/py.typed",
        "serverless_pipeline/provider_requires.cjs",
    ):
        assert expected in names
    assert not [n for n in names if n.startswith(("tests/", "examples/", "benchmarks/"))]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "serverless-pipeline = serverless_pipeline.cli:main" in (
        zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_the_consumer_example_synthesizes_from_the_installed_wheel(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=900,
        env=env,
    )
    # The pinned dependencies come from this environment, which `make test` installed with the
    # same pins: a path entry, after the new environment's own site-packages, whose .pth files
    # (this checkout's editable install among them) Python does not run. The library itself can
    # only come from the wheel, which the `located` check below proves.
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    dependencies = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    (site / "pinned-dependencies.pth").write_text(dependencies + "\n")
    project = tmp_path / "consumer"
    shutil.copytree(ROOT / "examples" / "consumer", project)
    env["CDKTF_OUTDIR"] = str(project / "cdktf.out")
    done = subprocess.run(
        [str(python), "main.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Node 20 is end-of-life" not in done.stdout + done.stderr
    located = subprocess.run(
        [str(python), "-c", "import serverless_pipeline; print(serverless_pipeline.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(venv) in located and str(ROOT) not in located
    stack = project / "cdktf.out" / "stacks" / "payments-platform"
    document = json.loads((stack / "cdk.tf.json").read_text())
    machines = document["resource"]["aws_sfn_state_machine"].values()
    assert sorted(m["name"] for m in machines) == ["ledger-deployment", "refunds-deployment"]
    functions = {f["function_name"] for f in document["resource"]["aws_lambda_function"].values()}
    assert {
        "ledger-svc-api-production",
        "ledger-svc-reconciler-sandbox",
        "refunds-svc-staging",
        "ledger-promote",
        "refunds-rollback",
    } <= functions
    buckets = {b.get("bucket") for b in document["resource"]["aws_s3_bucket"].values()}
    assert {"acme-ledger-artifacts-7f3a", "acme-ledger-sandbox-7f3a"} <= buckets
    groups = {
        g["deployment_group_name"]: g["deployment_config_name"]
        for g in document["resource"]["aws_codedeploy_deployment_group"].values()
    }
    assert groups["refunds-svc-production"] == "CodeDeployDefault.LambdaCanary10Percent15Minutes"
    assert len(list(stack.glob("assets/*/*/handlers.zip"))) == 2
    states = {m["name"]: json.loads(m["definition"])["States"] for m in machines}
    assert "RunTestsInSandbox" in states["ledger-deployment"]
    assert "DeploySandbox" not in states["refunds-deployment"]
    approval = {name: machine["Configure"]["Result"] for name, machine in states.items()}
    assert approval == {
        "ledger-deployment": {"approval_required": True},
        "refunds-deployment": {"approval_required": False},
    }
    (topic,) = document["resource"]["aws_sns_topic"].values()
    assert topic["name"] == "payplat-releases"

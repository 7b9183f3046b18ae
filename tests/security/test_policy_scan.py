"""checkov's AWS policies on the synthesized stacks: zero failed checks."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline import FunctionSettings
from serverless_pipeline.example import example_config, multi_account_config
from tests.conftest import synth_config
from tests.grid_config import grid_config
from tests.security.full_config import full_config

# Slow: left out of `make test-fast`.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
CONFIG = ROOT / ".checkov.yaml"


def scan(document: dict[str, Any], directory: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: `make test` installs it")
    (directory / "cdk.tf.json").write_text(json.dumps(document, indent=2))
    done = subprocess.run(
        [
            str(CHECKOV),
            "--config-file",
            str(CONFIG),
            "-f",
            str(directory / "cdk.tf.json"),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]


def test_the_example_stack_passes_every_check(example: dict[str, Any], tmp_path: Path) -> None:
    report = scan(example, tmp_path)
    assert failures(report) == []
    assert report["summary"]["passed"] > 300


def test_the_stack_with_every_option_passes_every_check(tmp_path: Path) -> None:
    report = scan(synth_config(full_config()), tmp_path)
    assert failures(report) == []


def test_three_functions_in_three_environments_pass_every_check(tmp_path: Path) -> None:
    report = scan(synth_config(grid_config()), tmp_path)
    assert failures(report) == []
    assert report["summary"]["passed"] > 500


def test_environments_in_their_own_accounts_pass_every_check(tmp_path: Path) -> None:
    report = scan(synth_config(multi_account_config()), tmp_path)
    assert failures(report) == []
    assert report["summary"]["passed"] > 300


def test_image_functions_pass_every_check(tmp_path: Path) -> None:
    """The example with an image function: its repository, grants and privileged build."""
    config = example_config()
    functions = {
        **(config.application.functions or {}),
        "render": FunctionSettings(
            handler="render.handler", package_type="Image", architecture="arm64"
        ),
    }
    config = replace(config, application=replace(config.application, functions=functions))
    report = scan(synth_config(config), tmp_path)
    assert failures(report) == []
    assert report["summary"]["passed"] > 300


def test_a_weakened_stack_is_caught(example: dict[str, Any], tmp_path: Path) -> None:
    # The scan really looks: drop the rotation and public access block of the key and a bucket.
    weakened = json.loads(json.dumps(example))
    for key in weakened["resource"]["aws_kms_key"].values():
        key["enable_key_rotation"] = False
    report = scan(weakened, tmp_path)
    assert any(f.startswith("CKV_AWS_7 ") for f in failures(report))


def test_every_skip_has_a_reason() -> None:
    lines = CONFIG.read_text().splitlines()
    skips = [i for i, line in enumerate(lines) if line.strip().startswith("- CKV")]
    # 11: CKV_AWS_316 (privileged builds) applies only to stacks with image functions.
    assert 0 < len(skips) <= 11
    for index in skips:
        above = lines[index - 1].strip()
        assert above.startswith("#") or above.startswith("- CKV"), lines[index]

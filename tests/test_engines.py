"""The two engines: which one a process builds on, and that both synthesize the same stacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline import engine
from serverless_pipeline.engine import choose
from tests.conftest import ROOT, run_main

BOTH = {"cdktf", "cdktn", "cdktf_cdktf_provider_aws", "cdktn_provider_aws"}


@pytest.mark.parametrize(
    ("environ", "imported", "installed", "chosen"),
    [
        # the variable wins over everything
        ({engine.VARIABLE: "cdktf"}, {"cdktn"}, BOTH, "cdktf"),
        ({engine.VARIABLE: "cdktn"}, set(), BOTH, "cdktn"),
        # a program that imported one engine keeps it
        ({}, {"cdktf"}, BOTH, "cdktf"),
        ({}, {"cdktn"}, BOTH, "cdktn"),
        # otherwise CDK Terrain where its extra is installed, else cdktf
        ({}, set(), BOTH, "cdktn"),
        ({}, {"cdktf", "cdktn"}, BOTH, "cdktn"),
        ({}, set(), {"cdktf", "cdktf_cdktf_provider_aws"}, "cdktf"),
        ({}, set(), {"cdktf", "cdktf_cdktf_provider_aws", "cdktn"}, "cdktf"),
    ],
)
def test_the_engine_is_chosen_by_the_documented_rule(
    environ: dict[str, str], imported: set[str], installed: set[str], chosen: str
) -> None:
    assert choose(environ, imported, installed.__contains__) == chosen


def test_an_unknown_engine_is_refused_with_the_choices() -> None:
    with pytest.raises(ImportError, match="SERVERLESS_PIPELINE_ENGINE='cdk': choose one of cdktf"):
        choose({engine.VARIABLE: "cdk"}, set(), BOTH.__contains__)


@pytest.mark.slow
def test_a_cdktf_program_keeps_cdktf_although_cdktn_is_installed() -> None:
    code = "import cdktf\nfrom serverless_pipeline import engine\nprint(engine.NAME, engine.App)"
    env = {k: v for k, v in os.environ.items() if k != engine.VARIABLE}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split()[0] == "cdktf" and "cdktf.App" in done.stdout


# Where the engines' outputs may differ, each with its reason: (file, JSON path) -> reason.
DIFFERING = {
    ("cdk.tf.json", "terraform.required_providers.aws.version"): (
        "each engine's bindings are generated for their own AWS provider release: 6.25.0 "
        "(cdktf-cdktf-provider-aws 21.22.1), 6.69.1 (cdktn-provider-aws 25.8.1); Terraform "
        "installs that release at init, and every argument the library sets means the same in both"
    ),
    ("cdk.tf.json", "terraform.required_providers.aws.source"): (
        "cdktf writes the short `aws`, CDK Terrain the full `hashicorp/aws`: Terraform reads both "
        "as the same provider"
    ),
    ("cdk.tf.json", "//.metadata.version"): "the engine's own version, 0.21.0 or 0.24.0",
    ("manifest.json", "version"): "the engine's own version, 0.21.0 or 0.24.0",
}


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a JSON document by its dotted path (list items by index)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(index), item) for index, item in enumerate(value))
    else:
        return {path: value}
    found: dict[str, Any] = {}
    for key, item in items:
        found |= _leaves(item, f"{path}.{key}" if path else str(key))
    return found


def _differences(left: Path, right: Path) -> dict[tuple[str, str], tuple[Any, Any]]:
    """(file name, JSON path) -> (left, right) for every leaf of every JSON file that differs; a
    file on one side only, or another file whose bytes differ, is its own difference."""
    files = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    files |= {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    found: dict[tuple[str, str], tuple[Any, Any]] = {}
    for name in sorted(files):
        a, b = left / name, right / name
        if not (a.exists() and b.exists()):
            found[(str(name), "")] = (a.exists(), b.exists())
        elif name.suffix == ".json":
            leaves_a, leaves_b = (
                _leaves(json.loads(a.read_text())),
                _leaves(json.loads(b.read_text())),
            )
            for path in sorted(leaves_a.keys() | leaves_b.keys()):
                if leaves_a.get(path, KeyError) != leaves_b.get(path, KeyError):
                    found[(name.name, path)] = (leaves_a.get(path), leaves_b.get(path))
        elif a.read_bytes() != b.read_bytes():
            found[(str(name), "")] = ("bytes", "differ")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("app", [ROOT, ROOT / "examples" / "consumer"], ids=["example", "consumer"])
def test_both_engines_synthesize_the_same_stack(tmp_path: Path, app: Path) -> None:
    for name in engine.PROVIDERS:
        run_main(tmp_path / name, engine_name=name, app=app)
    differences = _differences(tmp_path / "cdktf", tmp_path / "cdktn")
    # The same resources at the same addresses with the same values, assets byte for byte:
    # nothing differs but what is listed, with its reason, above.
    assert set(differences) <= set(DIFFERING), {
        key: value for key, value in differences.items() if key not in DIFFERING
    }
    assert differences[("cdk.tf.json", "terraform.required_providers.aws.version")] == (
        "6.25.0",
        "6.69.1",
    )
    document = json.loads(next((tmp_path / "cdktn").rglob("cdk.tf.json")).read_text())
    assert len(_leaves(document["resource"])) > 1000

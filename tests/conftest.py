"""Shared synth helpers. One jsii kernel serves the whole session: the engine starts it once per
process, and the example stack is synthesized once and shared read-only. The engine is the one
serverless_pipeline.engine chooses (`make test` names it with SERVERLESS_PIPELINE_ENGINE)."""

# ruff: noqa: I001 -- serverless_pipeline first: it configures jsii before the engine starts it.
from __future__ import annotations

import serverless_pipeline  # noqa: F401

import filecmp
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline import PipelineConfig, ServerlessPipelineStack, engine
from serverless_pipeline.engine import TerraformStack, Testing
from serverless_pipeline.example import example_config
from tests.single_function_config import single_function_config

Synth = Callable[[PipelineConfig], dict[str, Any]]
ROOT = Path(__file__).resolve().parents[1]


def run_main(
    outdir: Path, *, eager: bool = False, engine_name: str = engine.NAME, app: Path = ROOT
) -> str:
    """Synthesize app's main.py (the example's by default) into outdir in a fresh interpreter on
    an engine (this session's by default), as `python main.py` does; eager imports every module
    of the provider package first, before serverless_pipeline can make them lazy. Returns how
    many provider modules loaded."""
    package = engine.PROVIDERS[engine_name]
    prelude = (
        f"import importlib, pkgutil; provider = importlib.import_module({package!r}); "
        f"[importlib.import_module(f'{package}.{{m.name}}') "
        "for m in pkgutil.iter_modules(provider.__path__) if not m.name.startswith('_')]; "
        if eager
        else ""
    )
    code = (
        f"{prelude}import runpy, sys; runpy.run_path('main.py', run_name='__main__'); "
        f"print(sum(m.startswith({package + '.'!r}) for m in sys.modules))"
    )
    env = {
        **os.environ,
        "CDKTF_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        engine.VARIABLE: engine_name,
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout.strip().splitlines()[-1]


def same_tree(left: Path, right: Path) -> list[str]:
    """Relative paths whose bytes differ (or that exist on one side only)."""
    files_left = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    files_right = {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    differing = sorted(str(p) for p in files_left ^ files_right)
    differing += [
        str(p)
        for p in sorted(files_left & files_right)
        if not filecmp.cmp(left / p, right / p, shallow=False)
    ]
    return differing


def synth_stack(stack: TerraformStack) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(Testing.synth(stack))
    return result


def synth_config(config: PipelineConfig) -> dict[str, Any]:
    return synth_stack(ServerlessPipelineStack(Testing.app(), "test", config))


@pytest.fixture(scope="session")
def example() -> dict[str, Any]:
    """The example stack of main.py, synthesized once."""
    return synth_config(example_config())


@pytest.fixture(scope="session")
def single() -> dict[str, Any]:
    """The single-function form (one handler, staging and production), synthesized once."""
    return synth_config(single_function_config())


def resources(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Resources of one Terraform type, by logical id."""
    found: dict[str, dict[str, Any]] = document.get("resource", {}).get(kind, {})
    return found


def data_sources(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = document.get("data", {}).get(kind, {})
    return found


def one(document: dict[str, Any], kind: str, contains: str) -> dict[str, Any]:
    """The single resource of `kind` whose logical id contains `contains`."""
    matches = {k: v for k, v in resources(document, kind).items() if contains in k}
    assert len(matches) == 1, f"{kind} matching {contains!r}: {sorted(matches)}"
    return next(iter(matches.values()))


def definition(document: dict[str, Any]) -> dict[str, Any]:
    """The deployment state machine's definition, parsed."""
    machine = one(document, "aws_sfn_state_machine", "state-machine")
    result: dict[str, Any] = json.loads(machine["definition"])
    return result


def policy_statements(document: dict[str, Any], role_contains: str) -> list[dict[str, Any]]:
    """The statements of the inline policy of the role whose logical id contains the text."""
    policy = one(document, "aws_iam_role_policy", role_contains)
    return referenced_statements(document, policy["policy"])


def referenced_statements(document: dict[str, Any], reference: str) -> list[dict[str, Any]]:
    """The statements of the policy document that `reference` (${data...<id>.json}) names."""
    kind, logical_id = reference.removeprefix("${data.").split(".")[:2]
    assert kind == "aws_iam_policy_document", reference
    statements: list[dict[str, Any]] = data_sources(document, kind)[logical_id]["statement"]
    return statements


def statement(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    matches = [s for s in statements if s.get("sid") == sid]
    assert len(matches) == 1, f"statement {sid!r} in {[s.get('sid') for s in statements]}"
    return matches[0]

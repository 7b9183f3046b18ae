"""The lazy provider package: same output, a fraction of the modules."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import cdktf_cdktf_provider_aws as provider
import pytest

from serverless_pipeline import provider_imports

ROOT = Path(__file__).resolve().parents[1]


def run_main(outdir: Path, *, eager: bool) -> str:
    """Synthesize main.py in a fresh interpreter; eager imports the whole package first."""
    prelude = "import cdktf_cdktf_provider_aws; " if eager else ""
    code = (
        f"{prelude}import runpy, sys; runpy.run_path('main.py', run_name='__main__'); "
        "print(sum(m.startswith('cdktf_cdktf_provider_aws.') for m in sys.modules))"
    )
    env = {
        **os.environ,
        "CDKTF_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout.strip().splitlines()[-1]


def same_tree(left: Path, right: Path) -> list[str]:
    """Relative paths whose bytes differ (or exist on one side only)."""
    files_left = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    files_right = {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    differing = sorted(str(p) for p in files_left ^ files_right)
    differing += [
        str(p)
        for p in sorted(files_left & files_right)
        if not filecmp.cmp(left / p, right / p, shallow=False)
    ]
    return differing


def test_output_is_byte_identical_with_and_without_lazy_loading(tmp_path: Path) -> None:
    lazy_modules = run_main(tmp_path / "lazy", eager=False)
    eager_modules = run_main(tmp_path / "eager", eager=True)
    assert same_tree(tmp_path / "lazy", tmp_path / "eager") == []
    assert (tmp_path / "lazy" / "stacks" / "serverless-pipeline" / "cdk.tf.json").exists()
    # The example uses a few dozen of the ~1,500 resource modules.
    assert int(lazy_modules) < 100 < 1000 < int(eager_modules)


def test_the_usual_imports_still_work() -> None:
    from cdktf_cdktf_provider_aws import sns_topic
    from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue

    assert sns_topic.SnsTopic.__name__ == "SnsTopic"
    assert SqsQueue.__module__ == "cdktf_cdktf_provider_aws.sqs_queue"
    assert provider.lambda_function.LambdaFunction.__name__ == "LambdaFunction"
    assert "s3_bucket" in dir(provider) and len(provider.__all__) > 1000


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'no_such_resource'"):
        _ = provider.no_such_resource


def test_installing_twice_changes_nothing() -> None:
    before = sys.modules["cdktf_cdktf_provider_aws"]
    assert provider_imports.install() is False
    assert sys.modules["cdktf_cdktf_provider_aws"] is before

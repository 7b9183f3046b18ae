"""The lazy provider package: same output, a fraction of the modules."""

from __future__ import annotations

import sys
from pathlib import Path

import cdktf_cdktf_provider_aws as provider
import pytest

from serverless_pipeline import provider_imports
from tests.conftest import run_main, same_tree


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

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest

from serverless_pipeline import (
    ApplicationProps,
    CloudBackend,
    ConfigurationError,
    PipelineConfig,
    S3Backend,
    ServerlessPipeline,
    ServerlessPipelineStack,
    engine,
)
from serverless_pipeline.engine import TerraformStack, Testing
from serverless_pipeline.example import example_config
from serverless_pipeline.validation import AWS_REGIONS
from tests.conftest import resources, synth_config, synth_stack

NAMED = {
    "aws_lambda_function": "function_name",
    "aws_iam_role": "name",
    "aws_iam_role_policy": "name",
    "aws_cloudwatch_log_group": "name",
    "aws_s3_bucket": "bucket_prefix",
    "aws_sfn_state_machine": "name",
    "aws_codepipeline": "name",
    "aws_codebuild_project": "name",
    "aws_codedeploy_app": "name",
    "aws_codedeploy_deployment_group": "deployment_group_name",
    "aws_kms_alias": "name",
    "aws_cloudwatch_event_rule": "name",
}


def test_local_backend_path_is_relative_and_provider_from_config(example: dict[str, Any]) -> None:
    assert example["terraform"]["backend"] == {"local": {"path": "terraform.tfstate"}}
    (provider,) = example["provider"]["aws"]
    assert provider["region"] == "eu-west-1"
    assert provider["default_tags"] == [{"tags": {"managed-by": "terraform", "project": "orders"}}]
    # The AWS provider version each engine's bindings were generated for.
    expected = {"cdktf": "6.25.0", "cdktn": "6.69.1"}[engine.NAME]
    assert example["terraform"]["required_providers"]["aws"]["version"] == expected


def test_s3_backend_encrypts_and_locks() -> None:
    config = dataclasses.replace(
        example_config(),
        backend=S3Backend(bucket="tf-state-1", key="orders/terraform.tfstate", region="eu-west-1"),
    )
    backend = synth_config(config)["terraform"]["backend"]["s3"]
    assert backend == {
        "bucket": "tf-state-1",
        "key": "orders/terraform.tfstate",
        "region": "eu-west-1",
        "encrypt": True,
        "use_lockfile": True,
    }


def test_terraform_cloud_backend_names_organization_and_workspace() -> None:
    config = dataclasses.replace(
        example_config(), backend=CloudBackend(organization="acme", workspace="orders")
    )
    cloud = synth_config(config)["terraform"]["cloud"]
    assert cloud == {
        "hostname": "app.terraform.io",
        "organization": "acme",
        "workspaces": {"name": "orders"},
    }


def test_invalid_stack_settings_are_reported_together() -> None:
    config = dataclasses.replace(
        example_config(),
        # Shaped like a region, but AWS has no eu-west-9.
        region="eu-west-9",
        backend=S3Backend(bucket="Bad Bucket", key="/abs", region="mars-1"),
        tags={"aws:owner": "me"},
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    assert raised.value.problems == [
        f"region is 'eu-west-9'; expected an AWS region such as eu-central-1 (one of "
        f"{len(AWS_REGIONS)} in the aws, aws-cn and aws-us-gov partitions)",
        f"backend.region is 'mars-1'; expected an AWS region such as eu-central-1 (one of "
        f"{len(AWS_REGIONS)} in the aws, aws-cn and aws-us-gov partitions)",
        "backend.bucket is 'Bad Bucket'; expected an S3 bucket name",
        "backend.key is '/abs'; expected a relative object key",
        "tags key 'aws:owner' is not allowed; 1-128 characters, not aws:",
    ]


def test_two_pipelines_in_one_stack_do_not_collide() -> None:
    stack = TerraformStack(Testing.app(), "two")
    first = example_config()
    second = PipelineConfig(
        name="billing", region="eu-west-1", application=ApplicationProps(name="billing-api")
    )
    ServerlessPipeline(stack, "orders", first)
    ServerlessPipeline(stack, "billing", second)
    document = synth_stack(stack)
    for kind, attribute in NAMED.items():
        names = [r[attribute] for r in resources(document, kind).values()]
        assert names, kind
        duplicates = [n for n, count in Counter(names).items() if count > 1]
        assert duplicates == [], f"{kind}: {duplicates}"
    functions = {r["function_name"] for r in resources(document, "aws_lambda_function").values()}
    assert {
        "orders-promote",
        "billing-promote",
        "orders-api-staging",
        "billing-api-staging",
    } <= functions


def test_inside_your_own_stack_only_what_the_pipeline_uses_is_checked() -> None:
    # ServerlessPipeline leaves region, backend and tags to the user's provider and backend,
    # so it neither reads nor judges them; ServerlessPipelineStack, which uses them, does.
    config = dataclasses.replace(example_config(), region="mars-north-1", tags={"aws:x": "y"})
    ServerlessPipeline(TerraformStack(Testing.app(), "own"), "pipeline", config)
    with pytest.raises(ConfigurationError) as raised:
        ServerlessPipelineStack(Testing.app(), "stack", config)
    assert raised.value.problems[0].startswith("region is 'mars-north-1'")

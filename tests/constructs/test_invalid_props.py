"""Each remaining prop that can be wrong, refused at synth time with its exact message."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from serverless_pipeline import (
    ApplicationProps,
    ArtifactBucketsProps,
    AwsContext,
    BuildSettings,
    CloudBackend,
    ConfigurationError,
    HandlerFunctions,
    HandlerFunctionsProps,
    LocalBackend,
    PipelineKey,
    PipelineKeyProps,
    S3Source,
    Subscriber,
)
from serverless_pipeline.constructs.artifact_buckets import ArtifactBuckets
from serverless_pipeline.engine import TerraformStack, Testing
from serverless_pipeline.example import example_config
from tests.conftest import synth_config
from tests.single_function_config import single_function_config

EXAMPLE = single_function_config()


def application(**changes: Any) -> Any:
    return dataclasses.replace(
        EXAMPLE, application=dataclasses.replace(EXAMPLE.application, **changes)
    )


CONFIG_CASES = [
    (application(alias="123"), "alias is '123'; expected an alias name"),
    (
        application(log_retention_days=2),
        "log_retention_days is 2; expected one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, "
        "400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
    ),
    (
        application(reserved_concurrency=0),
        "reserved_concurrency is 0; expected a whole number from 1 to 10000",
    ),
    (
        dataclasses.replace(EXAMPLE, source=S3Source(object_key="releases/app.zip")),
        "source.object_key is 'releases/app.zip'; expected a key ending in .zip outside releases/",
    ),
    (
        dataclasses.replace(EXAMPLE, build=BuildSettings(source_dir="../src")),
        "build.source_dir is '../src'; expected a relative directory of the repository",
    ),
    (
        dataclasses.replace(EXAMPLE, build=BuildSettings(compute_type="HUGE")),
        "build.compute_type is 'HUGE'; expected one of BUILD_GENERAL1_SMALL, "
        "BUILD_GENERAL1_MEDIUM, BUILD_GENERAL1_LARGE",
    ),
    (
        dataclasses.replace(EXAMPLE, backend=LocalBackend(path="/var/state.tfstate")),
        "backend.path is '/var/state.tfstate'; expected a relative path",
    ),
    (
        dataclasses.replace(EXAMPLE, backend=CloudBackend(organization="acme corp", workspace="w")),
        "backend.organization is 'acme corp'; expected a Terraform Cloud organization name",
    ),
    (
        dataclasses.replace(EXAMPLE, backend=CloudBackend(organization="acme", workspace="a/b")),
        "backend.workspace is 'a/b'; expected a Terraform Cloud workspace name",
    ),
    (
        dataclasses.replace(EXAMPLE, name="orders", test_manifest="../tests.json"),
        "test_manifest is '../tests.json'; '..' is not allowed",
    ),
    (
        dataclasses.replace(EXAMPLE, deployment_timeout_seconds=10),
        "deployment_timeout_seconds is 10; expected a whole number from 60 to 86400 seconds",
    ),
]


@pytest.mark.parametrize(("config", "message"), CONFIG_CASES)
def test_invalid_config_is_refused_with_its_message(config: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    assert message in raised.value.problems


def scaffold() -> tuple[TerraformStack, AwsContext, PipelineKey]:
    stack = TerraformStack(Testing.app(), "props")
    context = AwsContext(stack, "context")
    return stack, context, PipelineKey(stack, "key", PipelineKeyProps("demo"), context)


def test_key_deletion_window_is_checked() -> None:
    stack = TerraformStack(Testing.app(), "key")
    with pytest.raises(ConfigurationError) as raised:
        PipelineKey(
            stack,
            "key",
            PipelineKeyProps("demo", deletion_window_days=3),
            AwsContext(stack, "context"),
        )
    assert raised.value.problems == [
        "deletion_window_days is 3; expected a whole number from 7 to 30 days"
    ]


def test_access_log_expiration_is_checked() -> None:
    stack, context, key = scaffold()
    with pytest.raises(ConfigurationError) as raised:
        ArtifactBuckets(
            stack,
            "b",
            ArtifactBucketsProps("demo", access_log_expiration_days=0),
            key=key,
            context=context,
        )
    assert raised.value.problems == [
        "access_log_expiration_days is 0; expected a whole number from 1 to 3650"
    ]


def test_handler_props_are_checked_together() -> None:
    stack, _, key = scaffold()
    props = HandlerFunctionsProps(
        name_prefix="demo",
        test_manifest="tests.yaml",
        runtime="nodejs20.x",
        memory_mb=100,
        timeout_seconds=1000,
        test_case_timeout_seconds=0,
        reserved_concurrency=0,
    )
    with pytest.raises(ConfigurationError) as raised:
        unused: Any = None  # validation fails before any of these is used
        HandlerFunctions(
            stack,
            "h",
            props,
            key=key,
            buckets=unused,
            application=unused,
            notifications=unused,
            context=unused,
        )
    assert raised.value.problems == [
        "test_manifest is 'tests.yaml'; expected a relative path to a .json file inside the "
        "release",
        "runtime is 'nodejs20.x'; expected one of python3.12, python3.13",
        "memory_mb is 100; expected a whole number from 128 to 10240 MB",
        "timeout_seconds is 1000; expected a whole number from 1 to 900 seconds",
        "test_case_timeout_seconds is 0; expected a whole number from 1 to 300 seconds",
        "reserved_concurrency is 0; expected a whole number from 1 to 1000",
    ]


def test_application_props_are_checked_before_the_stack_is_built() -> None:
    with pytest.raises(ConfigurationError, match="name is 'x'"):
        synth_config(application(name="x"))
    production = ApplicationProps(name="ok-name").environment_list()[-1]
    assert production.shift(last=True).startswith("CodeDeployDefault.LambdaCanary")


def test_one_synth_names_the_mistakes_of_every_part_of_the_config() -> None:
    """The stack, the application, the build, the handlers, the state machine and the
    subscribers each have a mistake: one error lists them all, before any construct exists."""
    base = example_config()
    functions = dict(base.application.functions or {})
    functions["api"] = dataclasses.replace(functions["api"], memory_mb=64)
    config = dataclasses.replace(
        base,
        name="Orders",
        region="eu-west-9",
        application=dataclasses.replace(base.application, functions=functions),
        build=dataclasses.replace(base.build, compute_type="HUGE"),
        test_manifest="../tests.json",
        poll_interval_seconds=1,
        subscribers=[Subscriber("email", "ops")],
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    assert raised.value.construct == "PipelineConfig"
    assert raised.value.problems == [
        "region is 'eu-west-9'; expected an AWS region such as eu-central-1 (one of 38 in the "
        "aws, aws-cn and aws-us-gov partitions)",
        "functions['api'].memory_mb is 64; expected a whole number from 128 to 10240 MB",
        "name is 'Orders'; expected 3-20 lowercase letters, digits or '-', starting with a letter",
        "build.compute_type is 'HUGE'; expected one of BUILD_GENERAL1_SMALL, "
        "BUILD_GENERAL1_MEDIUM, BUILD_GENERAL1_LARGE",
        "test_manifest is '../tests.json'; expected a relative path to a .json file inside the "
        "release",
        "test_manifest is '../tests.json'; '..' is not allowed",
        "poll_interval_seconds is 1; expected a whole number from 5 to 3600 seconds",
        "subscribers[0].endpoint is 'ops'; expected an email address",
    ]


def test_a_function_with_its_own_problem_is_not_judged_again_by_the_build() -> None:
    base = example_config()
    functions = dict(base.application.functions or {})
    functions["api"] = dataclasses.replace(functions["api"], runtime="python2.7")
    config = dataclasses.replace(
        base, application=dataclasses.replace(base.application, functions=functions)
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    assert [p for p in raised.value.problems if "python2.7" in p] == [
        raised.value.problems[0]
    ]
    assert raised.value.problems[0].startswith("functions['api'].runtime is 'python2.7'")

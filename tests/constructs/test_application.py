from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from serverless_pipeline import ApplicationProps, ConfigurationError, EnvironmentSettings
from tests.conftest import one, policy_statements, resources, statement, synth_config
from tests.single_function_config import single_function_config


def test_one_function_per_environment_behind_a_live_alias(single: dict[str, Any]) -> None:
    for environment in ("staging", "production"):
        function = one(single, "aws_lambda_function", f"application_{environment}_function")
        assert function["function_name"] == f"orders-api-{environment}"
        assert function["publish"] is True
        assert function["environment"]["variables"] == {"STAGE": environment}
        assert function["lifecycle"]["ignore_changes"] == [
            "filename",
            "source_code_hash",
            "s3_bucket",
            "s3_key",
            "s3_object_version",
        ]
        alias = one(single, "aws_lambda_alias", f"application_{environment}-alias")
        assert alias["name"] == "live"
        assert alias["lifecycle"]["ignore_changes"] == ["function_version", "routing_config"]


def test_deployment_groups_roll_back_on_failure_with_their_configs(
    single: dict[str, Any],
) -> None:
    (app,) = resources(single, "aws_codedeploy_app").values()
    assert app == {**app, "name": "orders-api", "compute_platform": "Lambda"}
    expected = {
        "staging": "CodeDeployDefault.LambdaAllAtOnce",
        "production": "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    }
    for environment, config in expected.items():
        group = one(single, "aws_codedeploy_deployment_group", f"{environment}-deployment-group")
        assert group["deployment_group_name"] == f"orders-api-{environment}"
        assert group["deployment_config_name"] == config
        assert group["auto_rollback_configuration"]["enabled"] is True
        assert "DEPLOYMENT_FAILURE" in group["auto_rollback_configuration"]["events"]
        assert group["deployment_style"] == {
            "deployment_option": "WITH_TRAFFIC_CONTROL",
            "deployment_type": "BLUE_GREEN",
        }
        shift = statement(policy_statements(single, f"{environment}-deployer"), "ShiftAlias")
        assert all(
            r.split(":function:")[1].startswith(f"orders-api-{environment}")
            for r in shift["resources"]
        )


def test_invalid_application_props_are_reported_together() -> None:
    config = dataclasses.replace(
        single_function_config(),
        application=ApplicationProps(
            name="Orders",
            handler="app",
            runtime="python3.9",
            memory_mb=64,
            timeout_seconds=901,
            production=EnvironmentSettings(
                deployment_config="CodeDeployDefault.AllAtOnce",
                variables={"AWS_REGION": "x", "9lives": "y"},
            ),
        ),
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    assert raised.value.construct == "PipelineConfig"
    problems = raised.value.problems
    # Lambda's runtime list names python3.9 deprecated; the handler's form depends on the
    # runtime, so it is judged once the runtime is one Lambda runs.
    assert problems[:4] == [
        "name is 'Orders'; expected 3-20 lowercase letters, digits or '-', starting with a letter",
        "runtime is 'python3.9', which Lambda has deprecated; expected one of nodejs22.x, "
        "nodejs24.x, python3.12, python3.13, python3.14, java21, java25, dotnet10, provided.al2023",
        "memory_mb is 64; expected a whole number from 128 to 10240 MB",
        "timeout_seconds is 901; expected a whole number from 1 to 900 seconds",
    ]
    assert problems[4].startswith(
        "production.deployment_config is 'CodeDeployDefault.AllAtOnce'; expected one of "
        "CodeDeployDefault.LambdaAllAtOnce, CodeDeployDefault.LambdaCanary10Percent5Minutes"
    )
    assert "production.variables sets AWS_REGION, which Lambda reserves" in problems
    assert (
        "production.variables key is '9lives'; expected a letter then letters, digits or '_'"
        in problems
    )

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from serverless_pipeline import AlarmSettings, ConfigurationError, EnvironmentSettings, TrafficShift
from tests.conftest import one, policy_statements, resources, statement, synth_config
from tests.single_function_config import single_function_config


def with_production(settings: EnvironmentSettings) -> Any:
    config = single_function_config()
    return dataclasses.replace(
        config, application=dataclasses.replace(config.application, production=settings)
    )


def test_each_alias_has_errors_and_throttles_alarms_that_stop_deployments(
    single: dict[str, Any],
) -> None:
    alarms = {
        a["alarm_name"]: a
        for a in resources(single, "aws_cloudwatch_metric_alarm").values()
        if a["namespace"] == "AWS/Lambda"
    }
    assert sorted(alarms) == [
        "orders-api-production-errors",
        "orders-api-production-throttles",
        "orders-api-staging-errors",
        "orders-api-staging-throttles",
    ]
    errors = alarms["orders-api-production-errors"]
    assert errors["dimensions"] == {
        "FunctionName": "orders-api-production",
        "Resource": "orders-api-production:live",
    }
    assert (errors["metric_name"], errors["statistic"], errors["threshold"]) == ("Errors", "Sum", 1)
    assert errors["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert errors["treat_missing_data"] == "notBreaching"
    group = one(single, "aws_codedeploy_deployment_group", "production-deployment-group")
    assert group["alarm_configuration"] == {
        "alarms": ["orders-api-production-errors", "orders-api-production-throttles"],
        "enabled": True,
    }
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["auto_rollback_configuration"]["events"]
    describe = statement(policy_statements(single, "production-deployer"), "ReadDeploymentAlarms")
    assert [r.split(":alarm:")[1] for r in describe["resources"]] == [
        "orders-api-production-errors",
        "orders-api-production-throttles",
    ]


def test_thresholds_and_the_users_own_alarms_are_config() -> None:
    settings = EnvironmentSettings(
        "CodeDeployDefault.LambdaAllAtOnce",
        alarms=AlarmSettings(
            errors_threshold=5,
            period_seconds=300,
            evaluation_periods=2,
            extra_alarm_names=("orders-p99-latency",),
        ),
    )
    document = synth_config(with_production(settings))
    errors = one(document, "aws_cloudwatch_metric_alarm", "production-errors-alarm")
    assert (errors["threshold"], errors["period"], errors["evaluation_periods"]) == (5, 300, 2)
    group = one(document, "aws_codedeploy_deployment_group", "production-deployment-group")
    assert group["alarm_configuration"]["alarms"][-1] == "orders-p99-latency"


def test_without_any_alarm_no_alarm_configuration_is_set() -> None:
    settings = EnvironmentSettings(
        "CodeDeployDefault.LambdaAllAtOnce", alarms=AlarmSettings(enabled=False)
    )
    document = synth_config(with_production(settings))
    group = one(document, "aws_codedeploy_deployment_group", "production-deployment-group")
    assert "alarm_configuration" not in group
    assert "DEPLOYMENT_STOP_ON_ALARM" not in group["auto_rollback_configuration"]["events"]
    names = [a["alarm_name"] for a in resources(document, "aws_cloudwatch_metric_alarm").values()]
    assert not [n for n in names if "production" in n]


@pytest.mark.parametrize(
    ("kind", "block", "routing"),
    [
        ("canary", "time_based_canary", "TimeBasedCanary"),
        ("linear", "time_based_linear", "TimeBasedLinear"),
    ],
)
def test_a_custom_traffic_shift_gets_its_own_deployment_config(
    kind: str, block: str, routing: str
) -> None:
    document = synth_config(with_production(EnvironmentSettings(TrafficShift(kind, 20, 3))))
    config = one(document, "aws_codedeploy_deployment_config", "production-deployment-config")
    name = f"orders-api-production-{kind.capitalize()}20PercentEvery3Min"
    assert config["deployment_config_name"] == name
    assert config["compute_platform"] == "Lambda"
    assert config["traffic_routing_config"] == {
        "type": routing,
        block: {"interval": 3, "percentage": 20},
    }
    group = one(document, "aws_codedeploy_deployment_group", "production-deployment-group")
    # Named through the config's attribute, so Terraform creates the config first (the
    # provider's aws_codedeploy_deployment_group example with a custom config does the same).
    assert group["deployment_config_name"] == (
        "${aws_codedeploy_deployment_config."
        "pipeline_application_production-deployment-config_CBE8650C.deployment_config_name}"
    )
    read = statement(policy_statements(document, "handlers_promote_role"), "ReadDeploymentConfigs")
    assert any(r.endswith(f":deploymentconfig:{name}") for r in read["resources"])


def test_invalid_shifts_and_alarms_are_refused() -> None:
    settings = EnvironmentSettings(
        TrafficShift("exponential", 0, 5000),
        alarms=AlarmSettings(
            errors_threshold=0,
            period_seconds=90,
            extra_alarm_names=("arn:aws:cloudwatch:eu-west-1:1:alarm:x",),
        ),
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(with_production(settings))
    assert raised.value.problems == [
        "production.deployment_config.kind is 'exponential'; expected one of canary, linear",
        "production.deployment_config.percentage is 0; expected a whole number from 1 to 99 "
        "percent",
        "production.deployment_config.interval_minutes is 5000; expected a whole number from 1 "
        "to 2880 minutes",
        "production.alarms.errors_threshold is 0; expected a whole number from 1 to 100000",
        "production.alarms.period_seconds is 90; expected a multiple of 60 from 60 to 86400",
        "production.alarms.extra_alarm_names item is 'arn:aws:cloudwatch:eu-west-1:1:alarm:x'; "
        "expected a CloudWatch alarm name (not an ARN)",
    ]

"""The emulated account and the synthesized stack are two renderings of one layout: for every
option, what the rehearsal creates is what `cdktf deploy` would create."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto.codedeploy.models import codedeploy_backends

from serverless_pipeline.application_settings import SMOKE_TESTS, TrafficShift
from serverless_pipeline.config import PipelineConfig
from serverless_pipeline.emulator.accounts import account_client
from serverless_pipeline.emulator.cloudwatch import alarm_names
from serverless_pipeline.example import example_config
from serverless_pipeline.rehearsal import account as emulated
from tests.conftest import resources, synth_config
from tests.constructs.test_accounts import hooked_config
from tests.grid_config import grid_config
from tests.security.full_config import full_config
from tests.single_function_config import single_function_config

# Values that name the account's own resources: bucket names, topic ARN.
ACCOUNT_SPECIFIC = {"ARTIFACT_BUCKET", "NOTIFICATION_TOPIC_ARN"}


def hooked_custom() -> PipelineConfig:
    """Custom shifts and the library's hook in staging, the user's hook in production."""
    config = single_function_config()
    application = config.application
    return dataclasses.replace(
        config,
        deployment_timeout_seconds=7200,
        application=dataclasses.replace(
            application,
            staging=dataclasses.replace(
                application.staging,
                deployment_config=TrafficShift("linear", 25, 2),
                before_allow_traffic=SMOKE_TESTS,
            ),
            production=dataclasses.replace(
                application.production,
                deployment_config=TrafficShift("canary", 5, 10),
                after_allow_traffic="orders-synthetic-checks",
            ),
        ),
    )


CONFIGS = {
    "example": example_config,
    "full": full_config,
    "hooked": hooked_custom,
    "grid": grid_config,
    # Staging in its own account, production in another account and region, both hooked.
    "multi-account": hooked_config,
}
# What the synthesized stack leaves to Terraform's data sources, as the emulator fills it in.
DATA_SOURCES = {
    r"\$\{data\.aws_partition\.[^}]+\.partition\}": "aws",
    r"\$\{data\.aws_caller_identity\.[^}]+\.account_id\}": emulated.ACCOUNT_ID,
}


def homes(document: dict[str, Any], config: PipelineConfig) -> dict[str | None, tuple[str, str]]:
    """Provider (None: the default one) -> the (account, region) its resources live in."""
    found: dict[str | None, tuple[str, str]] = {None: (emulated.ACCOUNT_ID, config.region)}
    for provider in document["provider"]["aws"]:
        if "alias" in provider:
            account = (provider.get("allowed_account_ids") or [emulated.ACCOUNT_ID])[0]
            found[f"aws.{provider['alias']}"] = (account, provider["region"])
    return found


def placed(
    document: dict[str, Any], config: PipelineConfig, kind: str
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The resources of one type, by the (account, region) they are created in."""
    where = homes(document, config)
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for resource in resources(document, kind).values():
        found.setdefault(where[resource.get("provider")], []).append(resource)
    return found


@pytest.fixture(params=sorted(CONFIGS))
def both(request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, Any], PipelineConfig]]:
    config = CONFIGS[request.param]()
    with mock_aws(config={"lambda": {"use_docker": False}}):
        emulated.create(config)
        yield synth_config(config), config


def resolved(document: dict[str, Any], value: str) -> str:
    """A reference to another resource's attribute, read from that resource."""
    if not value.startswith("${"):
        return value
    kind, logical_id, attribute = value[2:-1].split(".")
    resolved_value: str = resources(document, kind)[logical_id][attribute]
    return resolved_value


def functions(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["function_name"]: f for f in resources(document, "aws_lambda_function").values()}


def comparable(variables: dict[str, str]) -> dict[str, Any]:
    kept: dict[str, Any] = {k: v for k, v in variables.items() if k not in ACCOUNT_SPECIFIC}
    if "APPLICATION" in kept:
        application = json.loads(kept["APPLICATION"])
        for settings in application["environments"]:
            settings.pop("bucket")
            if "role" in settings:
                for pattern, value in DATA_SOURCES.items():
                    settings["role"] = re.sub(pattern, value, settings["role"])
        # Bucket names, where the pipeline's records are kept in the artifact bucket.
        for records in ("claims", "approvals"):
            if records in application:
                application[records] = "artifact bucket"
        kept["APPLICATION"] = application
    return kept


def test_every_function_is_the_same_function(both: tuple[dict[str, Any], PipelineConfig]) -> None:
    document, config = both
    by_home = placed(document, config, "aws_lambda_function")
    assert len(by_home) == len({*homes(document, config).values()})
    for (account, region), created in by_home.items():
        lam = account_client("lambda", account, region)
        synthesized = {f["function_name"]: f for f in created}
        rehearsed = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
        assert sorted(rehearsed) == sorted(synthesized), (account, region)
        _same_functions(synthesized, rehearsed)


def _same_functions(
    synthesized: dict[str, dict[str, Any]], rehearsed: dict[str, dict[str, Any]]
) -> None:
    for name, function in synthesized.items():
        actual = rehearsed[name]
        assert (actual["Handler"], actual["Runtime"]) == (function["handler"], function["runtime"])
        assert (actual["Timeout"], actual["MemorySize"]) == (
            function["timeout"],
            function["memory_size"],
        ), name
        variables = function.get("environment", {}).get("variables", {})
        assert comparable(actual.get("Environment", {}).get("Variables", {})) == comparable(
            variables
        ), name


def test_every_deployment_group_shifts_watches_and_rolls_back_alike(
    both: tuple[dict[str, Any], PipelineConfig],
) -> None:
    document, config = both
    layout = config.application_props()
    where = homes(document, config)
    groups = resources(document, "aws_codedeploy_deployment_group").values()
    # One group per function and environment.
    assert len(groups) == len(layout.function_settings()) * len(layout.environment_list())
    for group in groups:
        account, region = where[group.get("provider")]
        codedeploy = account_client("codedeploy", account, region)
        actual = codedeploy.get_deployment_group(
            applicationName=resolved(document, group["app_name"]),
            deploymentGroupName=group["deployment_group_name"],
        )["deploymentGroupInfo"]
        assert actual["deploymentConfigName"] == resolved(document, group["deployment_config_name"])
        assert (
            actual["autoRollbackConfiguration"]["events"]
            == (group["auto_rollback_configuration"]["events"])
        )
        # moto answers GetDeploymentGroup without the alarms; the emulator's CodeDeploy reads
        # them from moto's model, and so does this test.
        model = codedeploy_backends[account][region].get_deployment_group(
            resolved(document, group["app_name"]), group["deployment_group_name"]
        )
        watched = group.get("alarm_configuration", {}).get("alarms", [])
        assert alarm_names(model.alarm_configuration) == watched


def test_every_alarm_is_the_same_alarm(both: tuple[dict[str, Any], PipelineConfig]) -> None:
    document, config = both
    for (account, region), created in placed(
        document, config, "aws_cloudwatch_metric_alarm"
    ).items():
        cloudwatch = account_client("cloudwatch", account, region)
        # The pipeline's own alarms; the user's (extra_alarm_names) exist in both accounts but
        # neither stack creates them.
        rehearsed = {
            a["AlarmName"]: a
            for a in cloudwatch.describe_alarms()["MetricAlarms"]
            if a["Namespace"] == "AWS/Lambda"
        }
        synthesized = [a for a in created if a["namespace"] == "AWS/Lambda"]
        assert sorted(rehearsed) == sorted(a["alarm_name"] for a in synthesized)
        _same_alarms(synthesized, rehearsed)


def _same_alarms(synthesized: list[dict[str, Any]], rehearsed: dict[str, dict[str, Any]]) -> None:
    for alarm in synthesized:
        actual = rehearsed[alarm["alarm_name"]]
        assert (actual["MetricName"], actual["Threshold"], actual["Period"]) == (
            alarm["metric_name"],
            alarm["threshold"],
            alarm["period"],
        )
        assert actual["EvaluationPeriods"] == alarm["evaluation_periods"]
        assert {d["Name"]: d["Value"] for d in actual["Dimensions"]} == alarm["dimensions"]


def test_the_hooks_are_the_ones_the_config_chose(
    both: tuple[dict[str, Any], PipelineConfig],
) -> None:
    # Checked against the configuration itself, not the layout both renderings share.
    document, config = both
    promote = functions(document)[f"{config.name}-promote"]
    application = json.loads(promote["environment"]["variables"]["APPLICATION"])
    hooks = {e["name"]: e["hooks"] for e in application["environments"]}
    for settings in config.application_props().environment_list():
        chosen = {
            "BeforeAllowTraffic": settings.before_allow_traffic,
            "AfterAllowTraffic": settings.after_allow_traffic,
        }
        library = f"{config.name}-traffic-hook" + (f"-{settings.name}" if settings.placed else "")
        expected = {
            event: library if function == SMOKE_TESTS else function
            for event, function in chosen.items()
            if function is not None
        }
        assert hooks[settings.name] == expected, settings.name

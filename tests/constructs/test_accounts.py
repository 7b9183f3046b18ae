"""Environments in their own AWS accounts and regions: the multi-account example as synthesized."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from serverless_pipeline.application_settings import SMOKE_TESTS, Environment
from serverless_pipeline.config import PipelineConfig
from serverless_pipeline.example import (
    PRODUCTION_ACCOUNT,
    STAGING_ACCOUNT,
    example_config,
    multi_account_config,
)
from serverless_pipeline.validation import ConfigurationError
from tests.conftest import (
    data_sources,
    policy_statements,
    referenced_statements,
    resources,
    statement,
    synth_config,
)

STAGING = f"aws.orders-{STAGING_ACCOUNT}-eu-west-1"
PRODUCTION = f"aws.orders-{PRODUCTION_ACCOUNT}-eu-central-1"
# The types of every resource an environment has, all of which live where it lives.
ENVIRONMENT_TYPES = {
    "aws_lambda_function",
    "aws_lambda_alias",
    "aws_codedeploy_app",
    "aws_codedeploy_deployment_group",
    "aws_cloudwatch_metric_alarm",
    "aws_s3_bucket",
    "aws_kms_key",
}


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return synth_config(multi_account_config())


def provider_of(document: dict[str, Any], kind: str, contains: str) -> list[str | None]:
    return sorted(
        str(r.get("provider"))
        for logical_id, r in resources(document, kind).items()
        if contains in logical_id
    )


def test_one_provider_per_account_and_region_assumes_the_named_role(
    stack: dict[str, Any],
) -> None:
    default, staging, production = stack["provider"]["aws"]
    assert "alias" not in default and default["region"] == "eu-west-1"
    assert staging == {
        "alias": STAGING.removeprefix("aws."),
        # No region of its own: the pipeline's.
        "region": "eu-west-1",
        # Terraform refuses to apply with credentials of any other account.
        "allowed_account_ids": [STAGING_ACCOUNT],
        "assume_role": [
            {
                "role_arn": f"arn:aws:iam::{STAGING_ACCOUNT}:role/terraform",
                "session_name": "orders-terraform",
            }
        ],
        "default_tags": default["default_tags"],
    }
    assert production["region"] == "eu-central-1"
    assert production["allowed_account_ids"] == [PRODUCTION_ACCOUNT]


def test_every_resource_of_an_environment_is_created_where_it_lives(
    stack: dict[str, Any],
) -> None:
    for kind in ENVIRONMENT_TYPES - {"aws_codedeploy_app", "aws_kms_key"}:
        for environment, provider in (("staging", STAGING), ("production", PRODUCTION)):
            placed = provider_of(stack, kind, f"_{environment}")
            assert placed and set(placed) == {provider}, (kind, environment, placed)
    # One CodeDeploy application and one key in each account and region, none in the
    # pipeline's for the application (every environment lives elsewhere).
    assert provider_of(stack, "aws_codedeploy_app", "codedeploy") == [STAGING, PRODUCTION]
    assert sorted(str(k.get("provider")) for k in resources(stack, "aws_kms_key").values()) == [
        "None",
        STAGING,
        PRODUCTION,
    ]
    # The pipeline itself stays in the pipeline's account.
    for kind, contains in (
        ("aws_sfn_state_machine", ""),
        ("aws_codepipeline", ""),
        ("aws_lambda_function", "pipeline_handlers_promote"),
        ("aws_s3_bucket", "artifacts"),
    ):
        assert provider_of(stack, kind, contains) == ["None"], kind


def test_an_environment_bucket_logs_and_encrypts_where_it_lives(stack: dict[str, Any]) -> None:
    # S3 User Guide, "Logging requests with server access logging": the source and destination
    # buckets must be in the same AWS Region and owned by the same account. Lambda API
    # reference, UpdateFunctionCode: S3Bucket is "an Amazon S3 bucket in the same AWS Region
    # as your function". Hence a bucket, and a key (KMS keys are regional), where it lives.
    encryption = resources(stack, "aws_s3_bucket_server_side_encryption_configuration")
    (production,) = [
        e for k, e in encryption.items() if k.startswith("pipeline_buckets_production-e")
    ]
    key = production["rule"][0]["apply_server_side_encryption_by_default"]["kms_master_key_id"]
    assert key.startswith("${aws_kms_key.pipeline_placement-production_key")
    logging = resources(stack, "aws_s3_bucket_logging")
    (logged,) = [g for k, g in logging.items() if k.startswith("pipeline_buckets_production-log")]
    # S3 server access logs go to a bucket of the same account and region.
    assert logged["target_bucket"].startswith("${aws_s3_bucket.pipeline_buckets_production-access")
    assert logged["provider"] == PRODUCTION


def test_the_deployment_role_trusts_exactly_the_handlers_that_act_there(
    stack: dict[str, Any],
) -> None:
    # IAM User Guide, "Cross-account resource access in IAM": the role's trust policy names
    # the other account's principals, and their identity policies allow sts:AssumeRole on it;
    # both are needed. A role ARN in a trust policy must exist when the policy is saved, hence
    # references that make Terraform create the handler roles first.
    roles = resources(stack, "aws_iam_role")

    def trusted(environment: str) -> list[str]:
        (role,) = [r for k, r in roles.items() if f"deployment-role-{environment}_" in k]
        (allowed,) = json.loads(role["assume_role_policy"])["Statement"]
        assert allowed["Action"] == "sts:AssumeRole" and list(allowed["Principal"]) == ["AWS"]
        return [p.split("pipeline_handlers_")[1].split("_")[0] for p in allowed["Principal"]["AWS"]]

    # run_tests tests staging through its aliases (RunTestsInStaging); production is not.
    assert trusted("staging") == ["promote", "rollback", "run-tests"]
    assert trusted("production") == ["promote", "rollback"]
    assert {r["name"] for k, r in roles.items() if "deployment-role" in k} == {
        "orders-staging-deployment",
        "orders-production-deployment",
    }


def test_handlers_assume_only_the_deployment_roles_and_act_nowhere_else_directly(
    stack: dict[str, Any],
) -> None:
    staging_role = f"arn:aws:iam::{STAGING_ACCOUNT}:role/orders-staging-deployment"
    production_role = f"arn:aws:iam::{PRODUCTION_ACCOUNT}:role/orders-production-deployment"
    for handler, roles in (
        ("promote", [staging_role, production_role]),
        ("rollback", [staging_role, production_role]),
        ("run-tests", [staging_role]),
    ):
        statements = policy_statements(stack, f"pipeline_handlers_{handler}_role")
        assert statement(statements, "ActInOtherAccounts")["resources"] == roles
        actions = {a for s in statements for a in s["actions"]}
        # Neither CodeDeploy nor the aliases of an environment elsewhere: only through its role.
        assert not any(a.startswith("codedeploy:") for a in actions), handler
        assert "lambda:UpdateAlias" not in actions and "lambda:GetAlias" not in actions, handler
    approval = policy_statements(stack, "pipeline_handlers_approval_role")
    assert not any("sts:AssumeRole" in s["actions"] for s in approval)


def test_the_deployment_role_may_do_exactly_its_handlers_jobs_there(stack: dict[str, Any]) -> None:
    statements = policy_statements(stack, "deployment-role-production_policy")
    sids = [s["sid"] for s in statements]
    assert sids == [
        "ManageEnvironmentReleases",
        "ListEnvironmentBuckets",
        "UseEnvironmentKey",
        "PublishReleases",
        "DeployReleases",
        "RegisterRevisions",
        "ReadDeploymentConfigs",
        # Its gates and its bake.
        "WatchEnvironmentAlarms",
        "RestoreAliases",
        "StopDeployments",
    ]
    for each in statements:
        for resource in each["resources"]:
            # Scoped to the production account and region, or to its own bucket and key.
            assert (
                f":eu-central-1:{PRODUCTION_ACCOUNT}:" in resource
                or "pipeline_buckets_production_" in resource
                or "pipeline_placement-production_key" in resource
            ), (each["sid"], resource)
    publish = statement(statements, "PublishReleases")["resources"]
    assert (
        f"arn:aws:lambda:eu-central-1:{PRODUCTION_ACCOUNT}:function:orders-api-production"
        in publish
    )
    # No staging resource in production's role.
    assert not any("staging" in r for s in statements for r in s["resources"])


def test_an_environment_key_serves_its_account_and_its_region_logs(stack: dict[str, Any]) -> None:
    # CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS": the key
    # policy allows logs.<region>.amazonaws.com, with the log group ARN as encryption context.
    keys = resources(stack, "aws_kms_key")
    (production,) = [k for i, k in keys.items() if "placement-production" in i]
    assert production["enable_key_rotation"] is True
    document = referenced_statements(stack, production["policy"])
    principals = {s["sid"]: s["principals"][0]["identifiers"] for s in document}
    assert principals == {
        "AccountAdministersKeyThroughIam": [f"arn:aws:iam::{PRODUCTION_ACCOUNT}:root"],
        "CloudWatchLogsEncryptsThisAccountsLogGroups": ["logs.eu-central-1.amazonaws.com"],
    }
    # Its functions' logs are encrypted with it.
    groups = resources(stack, "aws_cloudwatch_log_group")
    (api,) = [g for i, g in groups.items() if "application_production-api_logs" in i]
    assert api["kms_key_id"].startswith("${aws_kms_key.pipeline_placement-production_key")


def test_the_handlers_know_each_role_and_keep_the_pipelines_records_at_home(
    stack: dict[str, Any],
) -> None:
    functions = resources(stack, "aws_lambda_function")
    (promote,) = [f for i, f in functions.items() if "pipeline_handlers_promote" in i]
    application = json.loads(promote["environment"]["variables"]["APPLICATION"])
    staging, production = application["environments"]
    assert staging["role"].endswith(f":iam::{STAGING_ACCOUNT}:role/orders-staging-deployment")
    assert production["region"] == "eu-central-1"
    # The claim and the approvals stay in the pipeline's account: the artifact bucket.
    artifacts = "${aws_s3_bucket.pipeline_buckets_artifacts_227D9540.bucket}"
    assert application["claims"] == application["approvals"] == artifacts
    assert data_sources(stack, "aws_caller_identity")  # the pipeline's own account


def test_the_single_account_example_is_unchanged_by_placements() -> None:
    document = synth_config(example_config())
    assert len(document["provider"]["aws"]) == 1
    assert not any("provider" in r for rs in document["resource"].values() for r in rs.values())


def test_bad_placements_are_named_at_synth() -> None:
    config = example_config()
    staging, production = config.environments or ()
    bad = replace(
        config,
        environments=(
            replace(staging, account_id="12345", terraform_role_arn="arn:aws:iam::12345:role/t"),
            replace(
                production,
                account_id=PRODUCTION_ACCOUNT,
                region="eu-middle-9",
                terraform_role_arn=f"arn:aws:iam::{STAGING_ACCOUNT}:role/terraform",
            ),
            Environment("dr", account_id=PRODUCTION_ACCOUNT),
        ),
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(bad)
    problems = raised.value.problems
    assert any("['staging'].account_id is '12345'" in p for p in problems)
    assert any("['production'].region is 'eu-middle-9'" in p for p in problems)
    assert any(
        "['production'].terraform_role_arn" in p and f"account {STAGING_ACCOUNT}" in p
        for p in problems
    )
    assert any("['dr'].account_id" in p and "without terraform_role_arn" in p for p in problems)


def test_the_dashboard_reads_each_environments_metrics_and_alarms_where_they_live(
    stack: dict[str, Any],
) -> None:
    (dashboard,) = resources(stack, "aws_cloudwatch_dashboard").values()
    widgets = json.loads(dashboard["dashboard_body"])["widgets"]
    (traffic,) = [w for w in widgets if w["properties"]["title"].startswith("Traffic")]
    options = {m[6]["label"]: m[-1] for m in traffic["properties"]["metrics"]}
    assert options["production api Errors"]["accountId"] == PRODUCTION_ACCOUNT
    assert options["production api Errors"]["region"] == "eu-central-1"
    assert options["staging worker Errors"]["accountId"] == STAGING_ACCOUNT
    assert options["staging worker Errors"]["region"] == "eu-west-1"
    (alarms,) = [w for w in widgets if w["type"] == "alarm"]
    assert (
        f"arn:aws:cloudwatch:eu-central-1:{PRODUCTION_ACCOUNT}:alarm:orders-api-production-errors"
        in alarms["properties"]["alarms"]
    )


def hooked_config() -> PipelineConfig:
    """The multi-account example with the library's smoke-test hook in both environments."""
    config = multi_account_config()
    return replace(
        config,
        environments=tuple(
            replace(e, before_allow_traffic=SMOKE_TESTS) for e in config.environments or ()
        ),
    )


def test_an_environment_elsewhere_runs_the_librarys_hook_in_its_own_account() -> None:
    document = synth_config(hooked_config())
    functions = resources(document, "aws_lambda_function")
    hooks = {
        f["function_name"]: f.get("provider")
        for f in functions.values()
        if "hook" in f["function_name"]
    }
    # CodeDeploy invokes a hook where the deployment runs; none is needed at home.
    assert hooks == {
        "orders-traffic-hook-staging": STAGING,
        "orders-traffic-hook-production": PRODUCTION,
    }
    statements = policy_statements(document, "traffic-hook-production_role")
    for sid in ("ReportHookStatus", "InvokeNewVersions"):
        for resource in statement(statements, sid)["resources"]:
            assert f":eu-central-1:{PRODUCTION_ACCOUNT}:" in resource, resource
    # Releases from production's own bucket, in production's account.
    (releases,) = statement(statements, "ReadDeployedReleases")["resources"]
    assert releases.startswith("${aws_s3_bucket.pipeline_buckets_production_")
    deployer = policy_statements(document, "production-api-deployer_policy")
    assert statement(deployer, "InvokeLibraryTrafficHook")["resources"] == [
        f"arn:aws:lambda:eu-central-1:{PRODUCTION_ACCOUNT}:function:orders-traffic-hook-production"
    ]


def test_an_environment_in_the_pipelines_own_place_or_partition_is_refused() -> None:
    config = example_config()
    staging, production = config.environments or ()
    same_place = replace(config, environments=(replace(staging, region="eu-west-1"), production))
    with pytest.raises(ConfigurationError, match="pipeline's own region eu-west-1"):
        synth_config(same_place)
    china = replace(
        config,
        environments=(
            staging,
            replace(
                production,
                account_id=PRODUCTION_ACCOUNT,
                region="cn-north-1",
                terraform_role_arn=f"arn:aws-cn:iam::{PRODUCTION_ACCOUNT}:role/terraform",
            ),
        ),
    )
    with pytest.raises(ConfigurationError, match="across partitions"):
        synth_config(china)


def test_an_account_without_a_region_is_in_the_pipelines_region(stack: dict[str, Any]) -> None:
    # Terraform creates it there, and the handlers are told so: they look in the same place
    # even inside a stack whose own provider is in another region.
    functions = resources(stack, "aws_lambda_function")
    (promote,) = [f for i, f in functions.items() if "pipeline_handlers_promote" in i]
    staging = json.loads(promote["environment"]["variables"]["APPLICATION"])["environments"][0]
    assert staging["region"] == "eu-west-1"

"""What AWS enforces at apply time and on the first release, checked on the synthesized JSON.

Each test names the AWS documentation the rule comes from; without the fix it guards, the
stack synthesizes fine and fails in a real account.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from typing import Any

import pytest

from serverless_pipeline import (
    ApplicationProps,
    BuildSettings,
    ConfigurationError,
    PipelineConfig,
    Subscriber,
    defaults,
)
from serverless_pipeline.build_settings import unit_tests
from tests.conftest import (
    data_sources,
    one,
    policy_statements,
    resources,
    statement,
    synth_config,
)
from tests.security.full_config import full_config
from tests.single_function_config import single_function_config

LOG_DELIVERY_SOURCE = (
    "arn:${data.aws_partition.pipeline_context_partition_9CE3A440.partition}:logs:"
    "${data.aws_region.pipeline_context_region_0C9DB2D7.region}:"
    "${data.aws_caller_identity.pipeline_context_identity_699D45AB.account_id}:*"
)


def refused(config: PipelineConfig) -> list[str]:
    """The problems a configuration is refused with at synth time."""
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    return raised.value.problems


def key_policy(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = next(
        d["statement"]
        for k, d in data_sources(document, "aws_iam_policy_document").items()
        if k.startswith("pipeline_key_policy")
    )
    return statements


def test_log_delivery_can_write_the_encrypted_execution_log(example: dict[str, Any]) -> None:
    # Step Functions developer guide, "Data at rest encryption": with a customer managed key
    # and logging on, the key policy lets delivery.logs.amazonaws.com decrypt, and the state
    # machine's role may generate data keys whose SourceArn context is this account's logs.
    delivery = statement(key_policy(example), "LogDeliveryDecryptsThisAccountsVendedLogs")
    assert delivery["principals"] == [
        {"type": "Service", "identifiers": ["delivery.logs.amazonaws.com"]}
    ]
    assert delivery["actions"] == ["kms:Decrypt"]
    assert delivery["condition"] == [
        {
            "test": "StringEquals",
            "values": [LOG_DELIVERY_SOURCE],
            "variable": "kms:EncryptionContext:SourceArn",
        }
    ]
    role = statement(policy_statements(example, "state-machine_role"), "EncryptExecutionLogs")
    assert role["actions"] == ["kms:GenerateDataKey"]
    assert role["resources"] == ["${aws_kms_key.pipeline_key_9778BF5E.arn}"]
    assert role["condition"] == delivery["condition"]


def test_handlers_reserve_no_concurrency_unless_asked(example: dict[str, Any]) -> None:
    # Lambda developer guide, "Configuring reserved concurrency": reservations must leave 100
    # unreserved executions, so any reservation fails on an account whose quota is still low.
    handlers = [
        f
        for f in resources(example, "aws_lambda_function").values()
        if f["handler"].startswith("handlers.")
    ]
    assert handlers and all("reserved_concurrent_executions" not in f for f in handlers)
    reserved = [
        f.get("reserved_concurrent_executions")
        for f in resources(synth_config(full_config()), "aws_lambda_function").values()
        if f["handler"].startswith("handlers.")
    ]
    assert set(reserved) == {2}


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13"])
def test_the_build_runs_the_python_the_functions_run(runtime: str) -> None:
    # Packages with compiled extensions import only under the interpreter they were built for.
    config = single_function_config()
    config = dataclasses.replace(
        config, application=dataclasses.replace(config.application, runtime=runtime)
    )
    project = one(synth_config(config), "aws_codebuild_project", "pipeline_build")
    spec = json.loads(project["source"]["buildspec"])
    assert spec["phases"]["install"]["runtime-versions"] == {"python": runtime[len("python") :]}


def test_a_build_python_other_than_the_runtimes_is_refused() -> None:
    config = dataclasses.replace(
        single_function_config(),
        application=ApplicationProps(name="orders-api", runtime="python3.13"),
        build=BuildSettings(python_version="3.12"),
    )
    assert refused(config) == [
        "build.python_version is '3.12' but the functions run python3.13; omit it (the build "
        "follows the runtime) or set '3.13', so that compiled dependencies import in Lambda"
    ]


def test_the_build_installs_a_test_runner_when_the_repository_brings_none() -> None:
    # The CodeBuild images carry Python but no pytest.
    install = BuildSettings().install_command
    assert "requirements-dev.txt" in install and "requirements.txt" in install
    assert "python -m pytest --version >/dev/null 2>&1 || pip install 'pytest>=8,<10'" in install


@pytest.mark.parametrize(
    ("status", "required", "exit_code"),
    [(0, False, 0), (5, False, 0), (1, False, 1), (2, False, 2), (5, True, 5), (0, True, 0)],
)
def test_no_tests_collected_passes_unless_tests_are_required(
    status: int, required: bool, exit_code: int
) -> None:
    # pytest exits 5 when it collects nothing; the command runs in bash as CodeBuild runs it.
    settings = BuildSettings(unit_test_command=f"exit {status}", require_unit_tests=required)
    done = subprocess.run(["bash", "-c", unit_tests(settings)], capture_output=True, check=False)
    assert done.returncode == exit_code
    assert (b"No unit tests collected" in done.stdout) == (status == 5 and not required)


def test_release_code_runs_in_a_function_that_can_only_write_its_logs(
    example: dict[str, Any],
) -> None:
    candidate = one(example, "aws_lambda_function", "handlers_candidate_function")
    assert candidate["function_name"] == "orders-candidate"
    assert candidate["handler"] == "app.handler"
    assert candidate["runtime"] == "python3.13"
    assert candidate["timeout"] == 30
    assert "environment" not in candidate and "kms_key_arn" not in candidate
    assert set(candidate["lifecycle"]["ignore_changes"]) >= {"environment", "source_code_hash"}
    statements = policy_statements(example, "handlers_candidate_role")
    assert [s["sid"] for s in statements] == ["WriteOwnLogs"]
    run = policy_statements(example, "handlers_run-tests_role")
    # Only qualified ARNs: a policy naming function:<name>:* allows calls that name a version,
    # not the function itself (Lambda developer guide, "Fine-tuning the Resources and
    # Conditions sections of policies": qualified and unqualified ARNs).
    assert statement(run, "DeleteCandidateVersions")["resources"] == [
        "arn:${data.aws_partition.pipeline_context_partition_9CE3A440.partition}:lambda:"
        "${data.aws_region.pipeline_context_region_0C9DB2D7.region}:"
        "${data.aws_caller_identity.pipeline_context_identity_699D45AB.account_id}:"
        "function:orders-candidate:*"
    ]
    variables = one(example, "aws_lambda_function", "handlers_run-tests_function")["environment"]
    assert variables["variables"]["CANDIDATE_FUNCTION"] == "orders-candidate"


def test_the_s3_source_action_has_its_documented_permissions(example: dict[str, Any]) -> None:
    # CodePipeline "Amazon S3 source action reference", service role permissions.
    statements = policy_statements(example, "pipeline_role")
    source = statement(statements, "ReadSource")
    assert source["actions"] == [
        "s3:GetObject",
        "s3:GetObjectTagging",
        "s3:GetObjectVersion",
        "s3:GetObjectVersionTagging",
    ]
    assert source["resources"] == [
        "${aws_s3_bucket.pipeline_buckets_artifacts_227D9540.arn}/source/app.zip"
    ]
    bucket = statement(statements, "ReadSourceBucket")
    assert bucket["actions"] == ["s3:GetBucketAcl", "s3:GetBucketLocation"]
    assert bucket["resources"] == ["${aws_s3_bucket.pipeline_buckets_artifacts_227D9540.arn}"]


def test_a_deadline_shorter_than_the_traffic_shift_is_refused() -> None:
    # CodeDeploy user guide, "Deployment configurations on an AWS Lambda compute platform":
    # LambdaLinear10PercentEvery10Minutes moves the last 10% after 90 minutes.
    config = single_function_config()
    production = dataclasses.replace(
        config.application.production,
        deployment_config="CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
    )
    config = dataclasses.replace(
        config, application=dataclasses.replace(config.application, production=production)
    )
    assert refused(config) == [
        "deployment_timeout_seconds is 3600 but production's deployment config "
        "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes shifts traffic for 90 minutes; "
        "give at least 6000 (the shift and 10 minutes for hooks)"
    ]
    synth_config(dataclasses.replace(config, deployment_timeout_seconds=6000))


def test_wait_loops_that_outgrow_the_execution_history_are_refused() -> None:
    # Step Functions service quotas: an execution's history holds at most 25,000 events.
    config = dataclasses.replace(
        single_function_config(), poll_interval_seconds=5, deployment_timeout_seconds=86400
    )
    assert refused(config) == [
        "poll_interval_seconds is 5: with deployment_timeout_seconds 86400, 2 deployments can "
        "poll 34560 times, more than Step Functions' 25000-event execution history holds; "
        "give at least 64"
    ]
    synth_config(dataclasses.replace(config, poll_interval_seconds=64))


def test_an_approval_that_outlasts_the_pipeline_action_is_refused() -> None:
    # CodePipeline "AWS Step Functions invoke action reference": the action fails after its
    # 7-day timeout while the execution may go on, and the next release would start beside it.
    config = dataclasses.replace(single_function_config(), approval_timeout_seconds=7 * 24 * 3600)
    assert refused(config) == [
        "a release may take up to 625025 s (approval timeouts of 604800 s in all, waits and "
        "bakes at the gates of 4320 s, 2 deployments of up to 3600 s, its tasks and its "
        "rollback), more than CodePipeline's 7-day action timeout (604800 s); shorten the "
        "approval timeouts, the windows' max_wait_minutes, bake_minutes, line_wait_minutes or "
        "deployment_timeout_seconds"
    ]


def test_creation_order_the_provider_cannot_infer(example: dict[str, Any]) -> None:
    # A new pipeline starts a run at once; the S3 trigger must be allowed before it fires.
    pipeline = one(example, "aws_codepipeline", "pipeline")
    assert any(d.startswith("aws_codebuild_project.") for d in pipeline["depends_on"])
    target = one(example, "aws_cloudwatch_event_target", "trigger-target")
    assert target["depends_on"] == [
        next(
            f"aws_iam_role_policy.{k}"
            for k in resources(example, "aws_iam_role_policy")
            if "trigger-role" in k
        )
    ]


def test_s3_native_locking_asks_for_the_terraform_that_has_it() -> None:
    # Terraform 1.11 upgrade guide: S3 native state locking (use_lockfile) is GA from 1.11.
    document = synth_config(full_config())
    assert document["terraform"]["backend"]["s3"]["use_lockfile"] is True
    assert document["terraform"]["required_version"] == ">= 1.11"


def test_functions_keep_lambdas_report_lines(example: dict[str, Any]) -> None:
    # Lambda developer guide, "Log-level filtering": below INFO, START and REPORT are dropped.
    for function in resources(example, "aws_lambda_function").values():
        assert function["logging_config"]["system_log_level"] == "INFO"


def test_lambda_subscribers_let_the_topic_invoke_them() -> None:
    endpoint = "arn:aws:lambda:eu-west-1:123456789012:function:chatops"
    config = dataclasses.replace(
        single_function_config(),
        subscribers=(Subscriber("lambda", endpoint), Subscriber("email", "a@b.c")),
    )
    (permission,) = [
        p
        for p in resources(synth_config(config), "aws_lambda_permission").values()
        if p["principal"] == "sns.amazonaws.com"
    ]
    assert permission["function_name"] == endpoint
    assert permission["principal"] == "sns.amazonaws.com"
    assert permission["source_arn"].startswith("${aws_sns_topic.")


def test_handlers_get_the_memory_measured_for_the_largest_release(example: dict[str, Any]) -> None:
    # tests/handlers/test_sizing.py measures the peak of a 250 MB release against this size.
    for name in ("validate", "run-tests", "promote", "rollback", "approval"):
        function = one(example, "aws_lambda_function", f"handlers_{name}_function")
        assert function["memory_size"] == defaults.HANDLER_MEMORY_MB == 1024
        assert "ephemeral_storage" not in function  # no handler writes a release to /tmp

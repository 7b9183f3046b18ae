from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline import BuildSettings, ConfigurationError, ConnectionSource, defaults
from serverless_pipeline.build_settings import RELEASE_INPUT_FILE, buildspec, unit_tests
from serverless_pipeline.example import example_config
from tests.conftest import one, policy_statements, resources, statement, synth_config
from tests.single_function_config import single_function_config

CONNECTION = "arn:aws:codeconnections:eu-west-1:123456789012:connection/abc-123"


def pipeline(document: dict[str, Any]) -> dict[str, Any]:
    return one(document, "aws_codepipeline", "pipeline")


def test_v2_queued_with_a_kms_encrypted_artifact_store(example: dict[str, Any]) -> None:
    p = pipeline(example)
    assert p["name"] == "orders-pipeline"
    assert p["pipeline_type"] == "V2"
    assert p["execution_mode"] == "QUEUED"
    (store,) = p["artifact_store"]
    assert store["type"] == "S3"
    assert store["encryption_key"]["type"] == "KMS"
    assert store["encryption_key"]["id"].startswith("${aws_kms_key.")
    assert [stage["name"] for stage in p["stage"]] == ["Source", "Build", "Deploy"]


def test_deploy_stage_starts_the_state_machine_with_the_release_file(
    example: dict[str, Any],
) -> None:
    (action,) = pipeline(example)["stage"][2]["action"]
    assert (action["category"], action["owner"], action["provider"]) == (
        "Invoke",
        "AWS",
        "StepFunctions",
    )
    assert action["input_artifacts"] == ["Release"]
    configuration = action["configuration"]
    assert configuration["InputType"] == "FilePath"
    assert configuration["Input"] == RELEASE_INPUT_FILE
    assert configuration["StateMachineArn"].startswith("${aws_sfn_state_machine.")


def test_build_passes_the_pipeline_execution_as_release_id(example: dict[str, Any]) -> None:
    (action,) = pipeline(example)["stage"][1]["action"]
    assert action["provider"] == "CodeBuild"
    variables = json.loads(action["configuration"]["EnvironmentVariables"])
    assert variables == [
        {"name": "RELEASE_ID", "type": "PLAINTEXT", "value": "#{codepipeline.PipelineExecutionId}"}
    ]


def test_s3_source_is_started_by_eventbridge_not_polling(example: dict[str, Any]) -> None:
    (action,) = pipeline(example)["stage"][0]["action"]
    assert action["provider"] == "S3"
    assert action["configuration"]["PollForSourceChanges"] == "false"
    assert action["configuration"]["S3ObjectKey"] == "source/app.zip"
    rule = one(example, "aws_cloudwatch_event_rule", "trigger")
    pattern = json.loads(rule["event_pattern"])
    assert pattern["detail"]["object"]["key"] == ["source/app.zip"]
    notification = one(example, "aws_s3_bucket_notification", "artifacts")
    assert notification["eventbridge"] is True
    start = statement(policy_statements(example, "trigger-role"), "StartPipeline")
    assert start["actions"] == ["codepipeline:StartPipelineExecution"]
    assert start["resources"][0].endswith(":orders-pipeline")


def test_codebuild_is_unprivileged_encrypted_and_logs_to_its_group(
    example: dict[str, Any],
) -> None:
    project = one(example, "aws_codebuild_project", "build")
    assert project["environment"]["privileged_mode"] is False
    assert project["encryption_key"].startswith("${aws_kms_key.")
    assert project["logs_config"]["cloudwatch_logs"]["status"] == "ENABLED"
    spec = json.loads(project["source"]["buildspec"])
    # The example's Python functions, then its Node.js one (tests/test_buildspec.py runs them).
    assert spec["phases"]["pre_build"]["commands"] == [
        unit_tests(BuildSettings()),
        "if [ -f package.json ]; then npm test --if-present; fi",
    ]
    assert spec["artifacts"]["files"] == [RELEASE_INPUT_FILE]
    build = " && ".join(spec["phases"]["build"]["commands"])
    assert "zip -X" in build and "sha256sum release.zip" in build
    assert 'KEY="releases/$RELEASE_ID/app.zip"' in build


def test_buildspec_commands_come_from_settings() -> None:
    settings = BuildSettings(unit_test_command="make test", require_unit_tests=True)
    spec = json.loads(buildspec(settings, [("python3.12", "x86_64")]))
    assert spec["phases"]["pre_build"]["commands"] == ["make test"]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.12"}


def test_the_build_runs_on_the_machine_its_functions_need(single: dict[str, Any]) -> None:
    environment = one(single, "aws_codebuild_project", "build")["environment"]
    assert (environment["image"], environment["type"]) == (
        defaults.BUILD_IMAGE,
        "LINUX_CONTAINER",
    )
    # Every function on arm64: dependencies with native code are built on Graviton.
    config = single_function_config()
    arm = dataclasses.replace(
        config, application=dataclasses.replace(config.application, architecture="arm64")
    )
    environment = one(synth_config(arm), "aws_codebuild_project", "build")["environment"]
    assert (environment["image"], environment["type"]) == (
        defaults.BUILD_IMAGE_ARM,
        "ARM_CONTAINER",
    )


def test_pipeline_role_is_scoped_to_its_own_build_and_state_machine(
    example: dict[str, Any],
) -> None:
    statements = policy_statements(example, "pipeline_role")
    start = statement(statements, "StartDeployment")
    assert start["resources"][0].endswith(":stateMachine:orders-deployment")
    watch = statement(statements, "WatchDeployment")
    assert watch["resources"][0].endswith(":execution:orders-deployment:*")
    assert statement(statements, "RunBuild")["resources"][0].endswith(":project/orders-build")
    for s in statements:
        for resource in s["resources"]:
            assert resource != "*"


def test_connection_source_uses_the_connection_and_no_s3_trigger() -> None:
    config = dataclasses.replace(
        example_config(),
        source=ConnectionSource(
            connection_arn=CONNECTION, repository="acme/orders", branch="release"
        ),
    )
    document = synth_config(config)
    (action,) = pipeline(document)["stage"][0]["action"]
    assert action["provider"] == "CodeStarSourceConnection"
    assert action["configuration"]["FullRepositoryId"] == "acme/orders"
    assert action["configuration"]["BranchName"] == "release"
    # The only rule is the state machine's cleanup: no S3 upload starts this pipeline.
    rules = resources(document, "aws_cloudwatch_event_rule").values()
    assert [r["name"] for r in rules] == ["orders-deployment-cleanup"]
    use = statement(policy_statements(document, "pipeline_role"), "UseConnection")
    assert use["resources"] == [CONNECTION]


def test_invalid_pipeline_settings_are_reported_together() -> None:
    config = dataclasses.replace(
        example_config(),
        source=ConnectionSource(
            connection_arn="arn:aws:s3:::bucket", repository="orders", branch="bad branch"
        ),
        build=BuildSettings(
            python_version="3.9", timeout_minutes=1, unit_test_command=" ", build_command=""
        ),
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    assert raised.value.construct == "PipelineConfig"
    assert raised.value.problems == [
        "source.connection_arn is 'arn:aws:s3:::bucket'; expected a CodeConnections connection ARN",
        "source.repository is 'orders'; expected owner/name",
        "source.branch is 'bad branch'; expected a git branch name",
        "build.python_version is '3.9' but the functions run python3.13; omit it (the build "
        "follows the runtime) or set '3.13', so that compiled dependencies import in Lambda",
        "build.timeout_minutes is 1; expected a whole number from 5 to 480 minutes",
        "build.unit_test_command is empty; give a shell command (use 'true' to skip the step)",
        "build.build_command is empty; give a shell command (use 'true' to skip the step)",
    ]


def test_the_build_refuses_a_release_without_its_test_manifest(tmp_path: Path) -> None:
    # DeployPipelineProps.test_manifest reaches the build as TEST_MANIFEST; run the check as
    # CodeBuild runs it, in bash.
    spec = json.loads(buildspec(BuildSettings(), [("python3.13", "x86_64")]))
    (check,) = [c for c in spec["phases"]["build"]["commands"] if "TEST_MANIFEST" in c]
    (tmp_path / ".release").mkdir()
    env = {"TEST_MANIFEST": "tests/release.json", "SOURCE_DIR": "service", "PATH": os.defpath}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    missing = run()
    assert missing.returncode == 1
    assert "no test manifest tests/release.json (PipelineConfig.test_manifest)" in missing.stderr
    (tmp_path / ".release" / "tests").mkdir()
    (tmp_path / ".release" / "tests" / "release.json").write_text('{"cases": []}')
    assert run().returncode == 0

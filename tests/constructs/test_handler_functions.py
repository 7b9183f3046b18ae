from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from serverless_pipeline.assets import handlers_package
from serverless_pipeline.naming import HANDLER_NAMES
from tests.conftest import one, policy_statements, resources, statement

NAMES = {
    "validate": "validate",
    "run_tests": "run-tests",
    "promote": "promote",
    "rollback": "rollback",
    "approval": "approval",
}


def handler(single: dict[str, Any], name: str) -> dict[str, Any]:
    return one(single, "aws_lambda_function", f"handlers_{NAMES[name]}_function")


def test_each_handler_runs_python_with_json_logs_and_xray(single: dict[str, Any]) -> None:
    for name in HANDLER_NAMES:
        function = handler(single, name)
        assert function["function_name"] == f"orders-{NAMES[name]}"
        assert function["handler"] == f"handlers.{name}.handler"
        assert function["runtime"] == "python3.13"
        assert function["tracing_config"] == {"mode": "Active"}
        assert function["logging_config"]["log_format"] == "JSON"
        assert function["kms_key_arn"].startswith("${aws_kms_key.")
        group = one(single, "aws_cloudwatch_log_group", f"handlers_{NAMES[name]}_logs")
        assert group["name"] == f"/aws/lambda/orders-{NAMES[name]}"
        assert group["retention_in_days"] == 365
        variables = function["environment"]["variables"]
        assert variables["TEST_MANIFEST"] == "release-tests.json"
        application = json.loads(variables["APPLICATION"])
        assert application["functions"] == [
            {"name": "orders-api", "handler": "app.handler", "memory_mb": 256}
        ]
        # The single form's names: the handlers derive orders-api-production from these.
        assert (application["name"], application["function_names"]) == (
            "orders-api",
            "{application}-{environment}",
        )
        assert [e["name"] for e in application["environments"]] == ["staging", "production"]


def test_the_handler_zip_holds_the_handlers_package_and_nothing_else() -> None:
    names = zipfile.ZipFile(io.BytesIO(handlers_package())).namelist()
    assert "handlers/validate.py" in names and "handlers/errors.py" in names
    assert all(n.startswith("handlers/") and "__pycache__" not in n for n in names)


def test_validate_may_only_read_release_artifacts(single: dict[str, Any]) -> None:
    statements = policy_statements(single, "handlers_validate_role")
    assert [s["sid"] for s in statements] == [
        "WriteOwnLogs",
        "WriteTraces",
        "UsePipelineKey",
        "ReadReleaseArtifacts",
    ]
    read = statement(statements, "ReadReleaseArtifacts")
    assert read["actions"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert read["resources"] == [
        "${aws_s3_bucket.pipeline_buckets_artifacts_227D9540.arn}/releases/*"
    ]


def test_run_tests_may_invoke_only_staging(single: dict[str, Any]) -> None:
    statements = policy_statements(single, "handlers_run-tests_role")
    invoke = statement(statements, "TestThroughLiveAliases")
    assert "lambda:InvokeFunction" in invoke["actions"]
    assert [r.split(":function:")[1] for r in invoke["resources"]] == [
        "orders-api-staging",
        "orders-api-staging:*",
    ]


def test_promote_changes_only_the_applications_functions_and_groups(
    single: dict[str, Any],
) -> None:
    statements = policy_statements(single, "handlers_promote_role")
    publish = statement(statements, "PublishReleases")
    assert sorted({r.split(":function:")[1].removesuffix(":*") for r in publish["resources"]}) == [
        "orders-api-production",
        "orders-api-staging",
    ]
    # ClaimPipeline restores what an execution that was never cleaned up left, as the rollback
    # does: the rollback's actions, on these same functions and groups, in these statements
    # (lambda:UpdateAlias on the function, Lambda developer guide "Resources and conditions
    # for Lambda actions"; codedeploy:StopDeployment on the deployment group, CodeDeploy user
    # guide "CodeDeploy permissions reference").
    assert "lambda:UpdateAlias" in publish["actions"]
    assert "RestoreAliases" not in {s["sid"] for s in statements}
    deploy = statement(statements, "DeployReleases")
    assert "codedeploy:StopDeployment" in deploy["actions"]
    assert [r.split(":deploymentgroup:")[1] for r in deploy["resources"]] == [
        "orders-api/orders-api-staging",
        "orders-api/orders-api-production",
    ]
    configs = statement(statements, "ReadDeploymentConfigs")["resources"]
    assert [c.split(":deploymentconfig:")[1] for c in configs] == [
        "CodeDeployDefault.LambdaAllAtOnce",
        "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    ]


def test_rollback_may_move_aliases_and_stop_deployments_only(single: dict[str, Any]) -> None:
    statements = policy_statements(single, "handlers_rollback_role")
    assert statement(statements, "RestoreAliases")["actions"] == [
        "lambda:GetAlias",
        "lambda:GetFunctionConfiguration",
        "lambda:UpdateAlias",
    ]
    assert "codedeploy:StopDeployment" in statement(statements, "StopDeployments")["actions"]
    actions = {a for s in statements for a in s["actions"]}
    assert (
        not {"lambda:UpdateFunctionCode", "lambda:PublishVersion", "codedeploy:CreateDeployment"}
        & actions
    )


def test_handlers_share_one_asset(single: dict[str, Any]) -> None:
    files = {handler(single, name)["filename"] for name in HANDLER_NAMES}
    assert len(files) == 1
    # Five handlers, the candidate runner and the two application functions; no traffic hook,
    # since no environment of the example uses it.
    assert len(resources(single, "aws_lambda_function")) == 8
    candidate = one(single, "aws_lambda_function", "handlers_candidate_function")
    assert candidate["filename"] not in files


def test_approval_may_answer_only_its_own_state_machine(single: dict[str, Any]) -> None:
    statements = policy_statements(single, "handlers_approval_role")
    answer = statement(statements, "AnswerApprovalTasks")
    assert answer["actions"] == ["states:SendTaskFailure", "states:SendTaskSuccess"]
    assert answer["resources"][0].endswith(":stateMachine:orders-deployment")
    approvals = statement(statements, "ManageApprovals")
    assert approvals["resources"][0].endswith("production_D59AC1B4.arn}/approvals/*")
    publish = statement(statements, "PublishReleaseNotifications")
    assert publish["resources"] == ["${aws_sns_topic.pipeline_notifications_topic_6B8C7CDC.arn}"]

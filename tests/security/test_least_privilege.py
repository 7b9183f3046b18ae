"""Every IAM policy in the synthesized stacks, walked: no wildcards where AWS allows scoping,
trust policies for one service each, and each role holding exactly its job's actions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from serverless_pipeline.constructs.state_machine import LOG_DELIVERY_ACTIONS
from serverless_pipeline.example import example_config, multi_account_config
from tests.conftest import referenced_statements, resources, synth_config
from tests.grid_config import grid_config
from tests.security.full_config import full_config

# Actions that AWS accepts only on Resource "*": they have no resource type to scope to.
STAR_ONLY_ACTIONS = frozenset(
    {
        # X-Ray trace delivery (service authorization reference: no resource types).
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        # CloudWatch Logs vended-log delivery that Step Functions logging needs.
        *LOG_DELIVERY_ACTIONS,
        # A VPC function's network interfaces (service authorization reference, Amazon EC2:
        # no resource types).
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
    }
)

LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
XRAY = {
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}
FUNCTION_BASE = LOGS | XRAY | {"kms:Decrypt"}
READ_RELEASE = {"s3:GetObject", "s3:GetObjectVersion"}
RECORDS = READ_RELEASE | {"s3:PutObject", "s3:ListBucket", "kms:GenerateDataKey"}
EXPECTED_ACTIONS = {
    "orders-validate-fn": FUNCTION_BASE | READ_RELEASE,
    "orders-run-tests-fn": FUNCTION_BASE
    | READ_RELEASE
    | {
        "lambda:GetAlias",
        "lambda:GetFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:InvokeFunction",
        "lambda:PublishVersion",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:DeleteFunction",
    },
    # Runs release code that is not trusted yet: it may write its logs and nothing else.
    "orders-candidate-fn": LOGS,
    "orders-promote-fn": FUNCTION_BASE
    | RECORDS
    | {
        # The gates: the environments' alarms, the line switch, telling who waits.
        "cloudwatch:DescribeAlarmHistory",
        "cloudwatch:DescribeAlarms",
        "ssm:GetParameter",
        "sns:Publish",
        "lambda:GetAlias",
        "lambda:GetFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:PublishVersion",
        "lambda:UpdateFunctionCode",
        "codedeploy:CreateDeployment",
        "codedeploy:GetDeployment",
        "codedeploy:ListDeployments",
        "codedeploy:GetApplicationRevision",
        "codedeploy:RegisterApplicationRevision",
        "codedeploy:GetDeploymentConfig",
        # Whether the execution holding the pipeline still runs (ClaimPipeline). Service
        # Authorization Reference, AWS Step Functions: DescribeExecution acts on the execution
        # resource type, so it is scoped to execution:<machine>:*.
        "states:DescribeExecution",
        # ClaimPipeline restores what a holder that was never cleaned up touched, as the
        # rollback does: on the functions and deployment groups promote deploys.
        "lambda:UpdateAlias",
        "codedeploy:StopDeployment",
    },
    "orders-rollback-fn": FUNCTION_BASE
    | RECORDS
    | {
        "lambda:GetAlias",
        "lambda:GetFunctionConfiguration",
        "lambda:UpdateAlias",
        "codedeploy:GetDeployment",
        "codedeploy:ListDeployments",
        "codedeploy:StopDeployment",
        "states:GetExecutionHistory",
        # The cleanup's notification, and its on-failure destination (the release topic): the
        # Lambda developer guide ("Capturing records of asynchronous invocations") requires the
        # function's execution role to be allowed to send to a destination.
        "sns:Publish",
    },
    # Each function of the application in each environment: its own role, and CodeDeploy's.
    **{
        f"orders-{function}-{environment}-{role}": actions
        for function in ("api", "worker", "notifier")
        for environment in ("staging", "production")
        for role, actions in (
            ("fn", FUNCTION_BASE),
            (
                "codedeploy",
                {
                    "lambda:GetAlias",
                    "lambda:UpdateAlias",
                    "lambda:GetProvisionedConcurrencyConfig",
                    "cloudwatch:DescribeAlarms",
                },
            ),
        )
    },
    "orders-deployment-sfn": XRAY
    | set(LOG_DELIVERY_ACTIONS)
    | {"lambda:InvokeFunction", "kms:Decrypt", "kms:GenerateDataKey", "sns:Publish"},
    "orders-pipeline-codepipeline": {
        "s3:GetObject",
        "s3:GetObjectVersion",
        # CodePipeline's "Amazon S3 source action reference", service role permissions.
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        "s3:GetBucketAcl",
        "s3:GetBucketLocation",
        "s3:PutObject",
        "s3:GetBucketVersioning",
        "codebuild:StartBuild",
        "codebuild:BatchGetBuilds",
        "states:StartExecution",
        "states:DescribeStateMachine",
        "states:DescribeExecution",
        "states:StopExecution",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
    },
    "orders-build-codebuild": LOGS
    | {
        "s3:GetBucketAcl",
        "s3:GetBucketLocation",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
    },
    "orders-pipeline-trigger": {"codepipeline:StartPipelineExecution"},
    "orders-approval-fn": FUNCTION_BASE
    | {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "kms:GenerateDataKey",
        "sns:Publish",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
    },
}


def identity_policies(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Policy name -> its statements: every role's inline policy, and the managed policies
    that hold what did not fit in one (named <role policy>-<n>)."""
    return {
        policy["name"]: referenced_statements(document, policy["policy"])
        for kind in ("aws_iam_role_policy", "aws_iam_policy")
        for policy in resources(document, kind).values()
    }


CONFIGS = {
    "example": example_config,
    "full": full_config,
    "grid": grid_config,
    "multi-account": multi_account_config,
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def stack(request: pytest.FixtureRequest) -> dict[str, Any]:
    return synth_config(CONFIGS[request.param]())


def test_no_wildcard_actions_or_needless_wildcard_resources(stack: dict[str, Any]) -> None:
    problems = []
    for name, statements in identity_policies(stack).items():
        for statement in statements:
            assert statement["effect"] == "Allow", name
            for action in statement["actions"]:
                if action == "*" or action.endswith(":*"):
                    problems.append(f"{name}/{statement['sid']}: action {action}")
            if "*" in statement["resources"]:
                loose = set(statement["actions"]) - STAR_ONLY_ACTIONS
                if loose:
                    problems.append(f"{name}/{statement['sid']}: * for {sorted(loose)}")
            for resource in statement["resources"]:
                if resource != "*" and resource.endswith(":*:*"):
                    problems.append(f"{name}/{statement['sid']}: {resource}")
    assert problems == []


def test_pass_role_only_for_an_exact_role_and_service(stack: dict[str, Any]) -> None:
    for name, statements in identity_policies(stack).items():
        for statement in statements:
            if "iam:PassRole" in statement["actions"]:
                assert "*" not in "".join(statement["resources"]), name
                variables = {c["variable"] for c in statement.get("condition", [])}
                assert "iam:PassedToService" in variables, name


def test_each_trust_policy_admits_one_service_only(stack: dict[str, Any]) -> None:
    for role in resources(stack, "aws_iam_role").values():
        policy = json.loads(role["assume_role_policy"])
        (statement,) = policy["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sts:AssumeRole"
        if role["name"].endswith("-deployment"):
            # An environment elsewhere: only the pipeline's handler roles, by reference.
            assert list(statement["Principal"]) == ["AWS"]
            for principal in statement["Principal"]["AWS"]:
                assert principal.startswith("${aws_iam_role.pipeline_handlers_"), principal
                assert principal.endswith(".arn}"), principal
            continue
        assert list(statement["Principal"]) == ["Service"]
        assert isinstance(statement["Principal"]["Service"], str)
        assert statement["Principal"]["Service"].endswith(".amazonaws.com")


def test_each_role_holds_exactly_its_jobs_actions() -> None:
    policies = identity_policies(synth_config(example_config()))
    actual = {
        name: {a for s in statements for a in s["actions"]} for name, statements in policies.items()
    }
    assert actual == EXPECTED_ACTIONS


def test_the_walker_catches_a_wildcard() -> None:
    document = synth_config(example_config())
    data = document["data"]["aws_iam_policy_document"]
    victim = next(k for k in data if "validate_role" in k)
    data[victim]["statement"][0]["actions"] = ["s3:*"]
    with pytest.raises(AssertionError, match="action s3:\\*"):
        test_no_wildcard_actions_or_needless_wildcard_resources(document)

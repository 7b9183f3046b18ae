"""The rehearsal's table of IAM actions (emulator/iam_actions.py) against the code that calls AWS
and against the Service Authorization Reference (policy_sentry's copy of it)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name
from moto import mock_aws
from policy_sentry.querying.actions import get_action_data

from serverless_pipeline.emulator.iam_actions import (
    DOCUMENTED_RESOURCES,
    OPERATIONS,
    Call,
    Request,
    requests_of,
)

PACKAGE = Path(__file__).resolve().parents[2] / "serverless_pipeline"
ACCOUNT, REGION = "123456789012", "eu-west-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:releases"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:shop-deployment"
# The state machine's service integrations (asl/*.asl.json), as the operations they call.
INTEGRATIONS = {"lambda:invoke": ("lambda", "Invoke"), "sns:publish": ("sns", "Publish")}


def handler_calls() -> set[tuple[str, str]]:
    """(service, operation) of every client method, paginator and waiter the handlers call."""
    source = "\n".join(p.read_text() for p in (PACKAGE / "handlers").glob("*.py"))
    services = set(re.findall(r'(?:client|in_environment)\(\s*"([a-z0-9-]+)"', source))
    session = botocore.session.get_session()
    calls = set()
    for service in services:
        model = session.get_service_model(service)
        for operation in model.operation_names:
            name = xform_name(operation)
            if re.search(rf'\.{name}\(|get_paginator\("{name}"\)', source):
                calls.add((service, operation))
    # Waiters poll one operation each; the handlers wait on Lambda's only.
    waiters = session.get_waiter_model("lambda")
    by_name = {xform_name(name): name for name in waiters.waiter_names}
    for waiter in re.findall(r'get_waiter\("([a-z0-9_]+)"\)', source):
        calls.add(("lambda", waiters.get_waiter(by_name[waiter]).operation))
    return calls


def test_every_call_of_the_handlers_and_the_state_machine_is_mapped() -> None:
    calls = handler_calls()
    assert {("s3", "GetObject"), ("codedeploy", "CreateDeployment")} <= calls  # the scan works
    templates = "\n".join(p.read_text() for p in (PACKAGE / "asl").glob("*.asl.json"))
    integrations = set(re.findall(r"states:::([a-z]+:[a-z]+)", templates))
    assert integrations <= set(INTEGRATIONS), integrations
    calls |= {INTEGRATIONS[i] for i in integrations}
    assert sorted(calls - set(OPERATIONS)) == []


def arn_formats(action: str) -> list[str]:
    """The resource ARN formats the Service Authorization Reference lists for an action ("*"
    where it lists no resource type)."""
    prefix, name = action.split(":")
    entries = get_action_data(prefix, name).get(prefix, [])
    assert entries, f"{action} is not in the Service Authorization Reference"
    return [str(e["resource_arn_format"]) for e in entries]


def matches(resource: str, arn_format: str) -> bool:
    pattern = re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(arn_format))
    return re.fullmatch(pattern, resource) is not None


@pytest.fixture
def emulated() -> Iterator[dict[str, Any]]:
    """A bucket with an object, a deployment and a state machine for the calls to name."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket="releases", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        s3.put_object(Bucket="releases", Key="releases/r1/app.zip", Body=b"zip")
        codedeploy = boto3.client("codedeploy", region_name=REGION)
        codedeploy.create_application(applicationName="shop", computePlatform="Lambda")
        codedeploy.create_deployment_group(
            applicationName="shop",
            deploymentGroupName="shop-api-staging",
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/deployer",
            deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce",
        )
        deployment = codedeploy.create_deployment(
            applicationName="shop", deploymentGroupName="shop-api-staging"
        )["deploymentId"]
        boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="shop-deployment",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/machine",
        )
        yield {"deployment": deployment}


def samples(deployment: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Parameters of each mapped call, as the handlers pass them."""
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:shop-api-staging"
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:shop-deployment:release-r2"
    on_deployment = [{"deploymentId": deployment, "lifecycleEventHookExecutionId": "h"}]
    lam = [{"FunctionName": "shop-api-staging"}, {"FunctionName": function, "Qualifier": "live"}]
    layer = {"LayerName": "shop-deps", "VersionNumber": 3}
    return {
        ("s3", "GetObject"): [
            {"Bucket": "releases", "Key": "releases/r1/app.zip"},
            {"Bucket": "releases", "Key": "releases/r1/app.zip", "VersionId": "v"},
            {"Bucket": "releases", "Key": "missing"},
        ],
        ("s3", "HeadObject"): [{"Bucket": "releases", "Key": "releases/r1/app.zip"}],
        ("s3", "PutObject"): [{"Bucket": "releases", "Key": "executions/claim.json"}],
        **{("lambda", op): lam for op in ("GetAlias", "UpdateAlias", "GetFunction")},
        **{
            ("lambda", op): lam
            for op in (
                "GetFunctionConfiguration",
                "Invoke",
                "DeleteFunction",
                "PublishVersion",
                "UpdateFunctionCode",
                "UpdateFunctionConfiguration",
            )
        },
        ("lambda", "ListLayerVersions"): [{"LayerName": "shop-deps"}],
        ("lambda", "PublishLayerVersion"): [layer],
        ("lambda", "DeleteLayerVersion"): [layer],
        ("codedeploy", "CreateDeployment"): [
            {"applicationName": "shop", "deploymentGroupName": "shop-api-staging"}
        ],
        ("codedeploy", "GetDeployment"): on_deployment,
        ("codedeploy", "ListDeployments"): [
            {"applicationName": "shop", "deploymentGroupName": "shop-api-staging"}
        ],
        ("codedeploy", "StopDeployment"): on_deployment,
        ("codedeploy", "PutLifecycleEventHookExecutionStatus"): on_deployment,
        ("cloudwatch", "DescribeAlarms"): [{"AlarmNames": ["shop-api-staging-errors"]}],
        ("cloudwatch", "DescribeAlarmHistory"): [{"AlarmName": "shop-api-staging-errors"}],
        ("ssm", "GetParameter"): [{"Name": "/shop/release-line"}],
        ("ssm", "GetCalendarState"): [{"CalendarNames": ["freeze"]}],
        ("sns", "Publish"): [{"TopicArn": TOPIC}],
        ("sts", "AssumeRole"): [{"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/deploy"}],
        ("stepfunctions", "DescribeExecution"): [{"executionArn": execution}],
        ("stepfunctions", "GetExecutionHistory"): [{"executionArn": execution}],
        ("stepfunctions", "SendTaskSuccess"): [{"taskToken": "t"}],
        ("stepfunctions", "SendTaskFailure"): [{"taskToken": "t"}],
        ("ecr", "DescribeImages"): [{"repositoryName": "shop"}],
        ("ecr", "DescribeImageScanFindings"): [{"repositoryName": "shop"}],
    }


def test_actions_and_resources_are_the_service_authorization_references(
    emulated: dict[str, Any],
) -> None:
    """Each action the table asks for exists, on a resource of a type the reference lists for
    it; an action the reference lists no resource type for is evaluated on "*", unless the
    table documents why not (DOCUMENTED_RESOURCES)."""
    examples = samples(emulated["deployment"])
    assert set(examples) == set(OPERATIONS)
    keys = {"arn:aws:s3:::releases": KEY, TOPIC: KEY}
    problems = []
    seen: set[str] = set()
    for (service, operation), calls in examples.items():
        for params in calls:
            requests: list[Request] = requests_of(
                service, operation, Call(params, ACCOUNT, REGION, keys)
            )
            for request in requests:
                seen.add(request.action)
                formats = arn_formats(request.action)
                if request.resource == "*":
                    if "*" not in formats:
                        problems.append(f"{request.action} on * but the reference lists {formats}")
                elif not any(matches(request.resource, f) for f in formats):
                    if formats == ["*"] and request.action in DOCUMENTED_RESOURCES:
                        continue
                    problems.append(f"{request.action} on {request.resource}: not of {formats}")
    assert problems == []
    assert set(DOCUMENTED_RESOURCES) <= seen
    # Every documented exception is one the reference really lists no resource type for.
    assert all(arn_formats(action) == ["*"] for action in DOCUMENTED_RESOURCES)


def test_implied_authorizations(emulated: dict[str, Any]) -> None:
    """Encrypted buckets and topics use their key with the caller's permissions, through the
    service; a missing object needs s3:ListBucket; CreateDeployment reads the group's config."""
    keys = {"arn:aws:s3:::releases": KEY, TOPIC: KEY}

    def needed(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
        call = Call(params, ACCOUNT, REGION, keys)
        return [
            (r.action, r.context.get("kms:viaservice", r.resource))
            for r in requests_of(service, operation, call)
        ]

    assert needed("s3", "GetObject", {"Bucket": "releases", "Key": "releases/r1/app.zip"}) == [
        ("s3:GetObject", "arn:aws:s3:::releases/releases/r1/app.zip"),
        ("kms:Decrypt", f"s3.{REGION}.amazonaws.com"),
    ]
    assert needed("s3", "GetObject", {"Bucket": "releases", "Key": "gone"})[1] == (
        "s3:ListBucket",
        "arn:aws:s3:::releases",
    )
    assert needed("sns", "Publish", {"TopicArn": TOPIC})[1:] == [
        ("kms:GenerateDataKey", f"sns.{REGION}.amazonaws.com"),
        ("kms:Decrypt", f"sns.{REGION}.amazonaws.com"),
    ]
    created = needed(
        "codedeploy",
        "CreateDeployment",
        {"applicationName": "shop", "deploymentGroupName": "shop-api-staging"},
    )
    assert created[1] == (
        "codedeploy:GetDeploymentConfig",
        f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentconfig:CodeDeployDefault.LambdaAllAtOnce",
    )

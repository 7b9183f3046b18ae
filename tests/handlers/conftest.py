"""An AWS account in moto with the pipeline's buckets, the app's functions and CodeDeploy."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from serverless_pipeline import naming
from serverless_pipeline.emulator.codedeploy import DeploymentEmulator, lambda_deployments
from serverless_pipeline.emulator.lambda_runtime import in_process_lambda
from serverless_pipeline.handlers import settings
from serverless_pipeline.handlers.settings import Target

REGION = "eu-west-1"
ARTIFACT_BUCKET = "pipeline-artifacts"
APP_SOURCE = """
import os

def handler(event, context):
    if "fail" in event:
        raise ValueError(event["fail"])
    return {"greeting": os.environ.get("GREETING", "hello") + " " + event["name"]}
"""
MANIFEST = {
    "cases": [
        {
            "name": "greets",
            "event": {"name": "ada"},
            "expected": {"greeting": "hello ada"},
            "stages": ["candidate"],
        },
        {"name": "rejects", "event": {"fail": "boom"}, "expected_error": "ValueError"},
    ]
}


def build_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            archive.writestr(name, content)
    return buffer.getvalue()


def app_files(source: str = APP_SOURCE, manifest: Any = MANIFEST) -> dict[str, str | bytes]:
    body = manifest if isinstance(manifest, str | bytes) else json.dumps(manifest)
    return {"app.py": source, "release-tests.json": body}


def target(environment: str = "staging", function: str = "app") -> Target:
    """One function in one environment, as the handlers read it from their configuration."""
    return settings.load().environment(environment).target(function)


@dataclass
class Account:
    s3: Any
    lam: Any
    codedeploy: Any
    deployments: DeploymentEmulator
    function_names: str = naming.SINGLE_FUNCTION_NAMES

    def upload(self, release_id: str, data: bytes) -> dict[str, str]:
        key = f"releases/{release_id}/app.zip"
        self.s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=data)
        return {
            "id": release_id,
            "bucket": ARTIFACT_BUCKET,
            "key": key,
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    def function_name(self, environment: str, function: str = "app") -> str:
        return self.function_names.format(
            application="app", function=function, environment=environment
        )

    def live_version(self, environment: str, function: str = "app") -> str:
        name = self.function_name(environment, function)
        return str(self.lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"])


CANDIDATE_FUNCTION = "app-candidate"
BUCKETS = {name: f"app-{name}-releases" for name in ("staging", "production")}
# The single form: one function, named app-staging and app-production.
SINGLE = {"app": "app.handler"}
# Two functions released together: app-api-staging, app-worker-staging, ...
TWO = {"api": "app.handler", "worker": "worker.handler"}
WORKER_SOURCE = """
def handler(event, context):
    if "fail" in event:
        raise ValueError(event["fail"])
    return {"processed": len(event["messages"])}
"""


def two_function_files(worker: str = WORKER_SOURCE, manifest: Any = None) -> dict[str, str | bytes]:
    """A release of both functions: the app of `app_files` and the worker."""
    files = app_files() if manifest is None else app_files(manifest=manifest)
    return {**files, "worker.py": worker}


def application(functions: Mapping[str, str | Mapping[str, Any]] = SINGLE, **changes: Any) -> str:
    """The handlers' APPLICATION variable for the account below (naming.handler_environment).
    Each function is its handler, or its entry with the handler and any of runtime,
    architecture and layers: {"handler": "index.handler", "runtime": "nodejs22.x"}."""
    document = {
        "name": "app",
        "alias": "live",
        "function_names": naming.SINGLE_FUNCTION_NAMES
        if functions == SINGLE
        else naming.FUNCTION_NAMES,
        "functions": [
            {
                "name": name,
                "memory_mb": 256,
                **({"handler": code} if isinstance(code, str) else code),
            }
            for name, code in functions.items()
        ],
        "environments": [
            {"name": name, "bucket": bucket, "hooks": {}} for name, bucket in BUCKETS.items()
        ],
        **changes,
    }
    return json.dumps(document)


@contextmanager
def open_account(monkeypatch: pytest.MonkeyPatch, functions: dict[str, str]) -> Iterator[Account]:
    """The pipeline's buckets, the candidate function, and each function in staging and
    production on release r1, with their deployment groups."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("ARTIFACT_BUCKET", ARTIFACT_BUCKET)
    monkeypatch.setenv("TEST_MANIFEST", "release-tests.json")
    monkeypatch.setenv("APPLICATION", application(functions))
    monkeypatch.setenv("CANDIDATE_FUNCTION", CANDIDATE_FUNCTION)
    names = json.loads(application(functions))["function_names"]
    with (
        mock_aws(config={"lambda": {"use_docker": False}}),
        lambda_deployments() as deployments,
        in_process_lambda(),
    ):
        s3 = boto3.client("s3", region_name=REGION)
        lam = boto3.client("lambda", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        codedeploy = boto3.client("codedeploy", region_name=REGION)
        account = Account(s3, lam, codedeploy, deployments, names)
        location = {"LocationConstraint": REGION}
        for bucket in [ARTIFACT_BUCKET, *BUCKETS.values()]:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        role = iam.create_role(RoleName="app", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        codedeploy.create_application(applicationName="app", computePlatform="Lambda")
        lam.create_function(
            FunctionName=CANDIDATE_FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": build_zip({"app.py": "def handler(event, context):\n    pass\n"})},
            Timeout=30,
        )
        first = build_zip(app_files() if functions == SINGLE else two_function_files())
        for environment in BUCKETS:
            for function, handler in functions.items():
                name = account.function_name(environment, function)
                created = lam.create_function(
                    FunctionName=name,
                    Runtime="python3.12",
                    Role=role,
                    Handler=handler,
                    Code={"ZipFile": first},
                    Publish=True,
                    Environment={"Variables": {"GREETING": f"hello from {environment}"}},
                    Description="release r1",
                )
                lam.create_alias(FunctionName=name, Name="live", FunctionVersion=created["Version"])
                codedeploy.create_deployment_group(
                    applicationName="app",
                    deploymentGroupName=name,
                    serviceRoleArn=role,
                    deploymentStyle={
                        "deploymentType": "BLUE_GREEN",
                        "deploymentOption": "WITH_TRAFFIC_CONTROL",
                    },
                )
        yield account


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    with open_account(monkeypatch, SINGLE) as opened:
        yield opened


@pytest.fixture
def two_functions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    with open_account(monkeypatch, TWO) as opened:
        yield opened


def create_alarms(account: Account, environments: tuple[str, ...]) -> None:
    """The pipeline's own alarms of the function in `environments` (its gates and bakes read
    them), quiet."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for environment in environments:
        for suffix in settings.OWN_ALARMS:
            cloudwatch.put_metric_alarm(
                AlarmName=f"{account.function_name(environment)}-{suffix}",
                Namespace="AWS/Lambda",
                MetricName=suffix.capitalize(),
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )


def inbox(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[Any]]:
    """The release topic with a subscribed queue, as the handlers' NOTIFICATION_TOPIC_ARN: a
    function that returns what subscribers heard since it was last asked."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="app-releases")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic)
    return lambda: [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    ]

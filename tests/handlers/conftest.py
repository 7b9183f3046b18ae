"""An AWS account in moto with the pipeline's buckets, the app's functions and CodeDeploy."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
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

    def upload(self, release_id: str, data: bytes) -> dict[str, str]:
        key = f"releases/{release_id}/app.zip"
        self.s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=data)
        return {
            "id": release_id,
            "bucket": ARTIFACT_BUCKET,
            "key": key,
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    def live_version(self, environment: str) -> str:
        return str(
            self.lam.get_alias(FunctionName=f"app-{environment}", Name="live")["FunctionVersion"]
        )


CANDIDATE_FUNCTION = "app-candidate"
# One function per environment, named as the single form names them (app-staging, ...).
ENVIRONMENTS = {
    name: {
        "function_name": f"app-{name}",
        "alias": "live",
        "bucket": f"app-{name}-releases",
        "application": "app",
        "deployment_group": f"app-{name}",
    }
    for name in ("staging", "production")
}


def application(**changes: Any) -> str:
    """The handlers' APPLICATION variable for the account below (naming.handler_environment)."""
    document = {
        "name": "app",
        "alias": "live",
        "function_names": naming.SINGLE_FUNCTION_NAMES,
        "functions": [{"name": "app", "handler": "app.handler", "memory_mb": 256}],
        "environments": [
            {"name": name, "bucket": values["bucket"], "hooks": {}}
            for name, values in ENVIRONMENTS.items()
        ],
        **changes,
    }
    return json.dumps(document)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("ARTIFACT_BUCKET", ARTIFACT_BUCKET)
    monkeypatch.setenv("TEST_MANIFEST", "release-tests.json")
    monkeypatch.setenv("APPLICATION", application())
    monkeypatch.setenv("CANDIDATE_FUNCTION", CANDIDATE_FUNCTION)
    with (
        mock_aws(config={"lambda": {"use_docker": False}}),
        lambda_deployments() as deployments,
        in_process_lambda(),
    ):
        s3 = boto3.client("s3", region_name=REGION)
        lam = boto3.client("lambda", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        codedeploy = boto3.client("codedeploy", region_name=REGION)
        location = {"LocationConstraint": REGION}
        for bucket in [ARTIFACT_BUCKET] + [e["bucket"] for e in ENVIRONMENTS.values()]:
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
        for name, environment in ENVIRONMENTS.items():
            function = lam.create_function(
                FunctionName=environment["function_name"],
                Runtime="python3.12",
                Role=role,
                Handler="app.handler",
                Code={"ZipFile": build_zip(app_files())},
                Publish=True,
                Environment={"Variables": {"GREETING": f"hello from {name}"}},
                Description="release r1",
            )
            lam.create_alias(
                FunctionName=environment["function_name"],
                Name="live",
                FunctionVersion=function["Version"],
            )
            codedeploy.create_deployment_group(
                applicationName="app",
                deploymentGroupName=environment["deployment_group"],
                serviceRoleArn=role,
                deploymentStyle={
                    "deploymentType": "BLUE_GREEN",
                    "deploymentOption": "WITH_TRAFFIC_CONTROL",
                },
            )
        yield Account(s3, lam, codedeploy, deployments)

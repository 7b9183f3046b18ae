"""DeployStaging and DeployProduction: move one environment to the release through CodeDeploy.

Action "start" records what is live, stores the release in the environment's bucket, updates the
function's code, publishes a version described with the release id and starts a CodeDeploy
deployment that shifts the live alias. Action "status" reports that deployment for the state
machine's wait loop and raises when it failed or ran past its deadline.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

import boto3

from . import artifacts, deployments, records, settings
from .errors import DeploymentFailed, DeploymentInProgress, DeploymentTimedOut, InvalidEvent
from .events import (
    Release,
    parse_execution,
    parse_release,
    release_key,
    require_environment,
    require_mapping,
    require_one_of,
)
from .lambda_versions import alias_version, describe, release_of

ACTIONS = ("start", "status")
LOGGER = logging.getLogger(__name__)


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings.load()
    event = require_mapping(event, "event")
    action = require_one_of(event, "action", ACTIONS)
    environment = config.environment(require_environment(event))
    release = parse_release(event)
    execution = parse_execution(event)
    if action == "start":
        return start(config, environment, release, execution)
    return status(config, environment, release, execution)


def start(
    config: settings.Settings,
    environment: settings.Environment,
    release: Release,
    execution: str,
) -> dict[str, Any]:
    s3, lam, codedeploy = boto3.client("s3"), boto3.client("lambda"), boto3.client("codedeploy")
    record = records.read_deployment(s3, environment.bucket, execution, environment.name)
    if record is not None and record.deployment_id:
        # A retry of a start that already got this far: report, never start a second deployment.
        return _report(record, "InProgress")
    # Verified before anything is written: a bad artifact leaves the environment untouched.
    data = artifacts.fetch(s3, release, config.artifact_bucket)
    running = deployments.active(codedeploy, environment)
    if running:
        raise DeploymentInProgress(
            f"deployment group {environment.deployment_group} already has deployment(s) "
            f"{', '.join(running)} in progress; refusing to start release {release.id}"
        )
    if record is None:
        current = alias_version(lam, environment.function_name, environment.alias)
        record = records.DeploymentRecord(
            environment=environment.name,
            release_id=release.id,
            previous_version=current,
            previous_release=release_of(lam, environment.function_name, current),
            state="started",
            deadline=int(time.time()) + config.deployment_timeout_seconds,
        )
        records.write_deployment(s3, environment.bucket, execution, record)
    target = _publish(s3, lam, environment, release, data)
    record.target_version = target
    if target == record.previous_version:
        record.state = "deployed"
        records.write_deployment(s3, environment.bucket, execution, record)
        _log("release already live", execution, record)
        return _report(record, "Succeeded")
    record.deployment_id = deployments.start(
        codedeploy, environment, record.previous_version, target, release.id
    )
    record.state = "deploying"
    records.write_deployment(s3, environment.bucket, execution, record)
    _log("deployment started", execution, record)
    return _report(record, "InProgress")


def _publish(
    s3: Any, lam: Any, environment: settings.Environment, release: Release, data: bytes
) -> str:
    """Store the release in the environment's bucket and publish it as a new version."""
    key = release_key(release.id)
    stored = s3.put_object(
        Bucket=environment.bucket, Key=key, Body=data, Metadata={"sha256": release.sha256}
    )
    code = {"S3Bucket": environment.bucket, "S3Key": key}
    if stored.get("VersionId"):
        code["S3ObjectVersion"] = stored["VersionId"]
    updated = lam.update_function_code(FunctionName=environment.function_name, **code)
    lam.get_waiter("function_updated_v2").wait(FunctionName=environment.function_name)
    published = lam.publish_version(
        FunctionName=environment.function_name,
        Description=describe(release.id),
        CodeSha256=updated["CodeSha256"],
    )
    version: str = published["Version"]
    return version


def status(
    config: settings.Settings,
    environment: settings.Environment,
    release: Release,
    execution: str,
) -> dict[str, Any]:
    s3, codedeploy = boto3.client("s3"), boto3.client("codedeploy")
    record = records.read_deployment(s3, environment.bucket, execution, environment.name)
    if record is None or record.release_id != release.id:
        raise InvalidEvent(
            f"execution {execution} started no deployment of release {release.id} "
            f"to {environment.name}"
        )
    if record.state == "deployed":
        return _report(record, "Succeeded")
    if record.deployment_id is None:
        raise InvalidEvent(
            f"execution {execution} has not started the deployment of release {release.id} "
            f"to {environment.name} yet (its start did not finish)"
        )
    state, problem = deployments.describe(codedeploy, record.deployment_id)
    if state == "Succeeded":
        record.state = "deployed"
        records.write_deployment(s3, environment.bucket, execution, record)
        _log("deployment succeeded", execution, record)
    elif state in deployments.FAILED_STATUSES:
        raise DeploymentFailed(
            f"deployment {record.deployment_id} of release {release.id} to "
            f"{environment.name} ended {state}: {problem or 'no reason given'}"
        )
    elif time.time() > record.deadline:
        raise DeploymentTimedOut(
            f"deployment {record.deployment_id} of release {release.id} to "
            f"{environment.name} is still {state} past its deadline"
        )
    return _report(record, "Succeeded" if state == "Succeeded" else "InProgress")


def _report(record: records.DeploymentRecord, state: str) -> dict[str, Any]:
    return {
        "environment": record.environment,
        "release_id": record.release_id,
        "deployment_id": record.deployment_id,
        "previous_version": record.previous_version,
        "target_version": record.target_version,
        "status": state,
    }


def _log(message: str, execution: str, record: records.DeploymentRecord) -> None:
    """One structured line per change: Lambda's JSON log format keeps the extra fields."""
    LOGGER.info(message, extra={"execution": execution, **asdict(record)})

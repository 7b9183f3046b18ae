"""DeployStaging, DeployProduction, Deploy<Env>: move every function of one environment to the
release through CodeDeploy, together (and, through handlers/gates.py, Check<Env>Gates before
and Check<Env>Bake after).

Action "start" records what each function serves, stores the release in the environment's
bucket, updates each function's code, publishes a version described with the release id and
starts one CodeDeploy deployment per function, so that they shift concurrently. Action "status"
reports them for the state machine's wait loop: done when all succeeded, raising as soon as one
failed or ran past its deadline (rollback then stops the others and restores every function).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from . import artifacts, deployments, gates, images, records, release_layers, rollback, settings
from .clients import client, in_environment
from .errors import (
    DeploymentFailed,
    DeploymentInProgress,
    DeploymentTimedOut,
    ExecutionInProgress,
    InvalidEvent,
    RollbackFailed,
)
from .events import (
    EXECUTION_ARN,
    LayerArtifact,
    Release,
    parse_execution,
    parse_release,
    release_key,
    require_mapping,
    require_one_of,
    require_str,
)
from .lambda_versions import alias_version, describe, release_of

ACTIONS = ("claim", "gate", "start", "status", "bake")
LOGGER = logging.getLogger(__name__)
Records = dict[str, records.DeploymentRecord]


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings.load()
    event = require_mapping(event, "event")
    action = require_one_of(event, "action", ACTIONS)
    if action == "claim":
        return claim(config, parse_release(event), parse_execution(event), event)
    environment = config.environment(require_one_of(event, "environment", config.environment_names))
    release = parse_release(event)
    execution = parse_execution(event)
    if action == "gate":
        since = event.get("since", 0)
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise InvalidEvent(f"since is {since!r:.80}; expected epoch seconds, or 0")
        reason = event.get("reason", "")
        if not isinstance(reason, str):
            raise InvalidEvent(f"reason is {reason!r:.80}; expected why the gate waited, or ''")
        return gates.gate(config, environment, release, execution, since, reason)
    ends = _ends_changes(config, environment, action, event)
    if action == "bake":
        seconds = event.get("bake_seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise InvalidEvent(f"bake_seconds is {seconds!r:.80}; expected a positive number")
        report = gates.bake(environment, release, execution, seconds)
        succeeded = True
    else:
        if action == "start":
            report = start(config, environment, release, execution)
        else:
            report = status(config, environment, release, execution)
        # A start finds the release live already when its code is unchanged: no status follows.
        succeeded = report["status"] == "Succeeded"
    if succeeded and ends:
        # Nothing of this execution can roll back any more: the next execution may go.
        records.release(client("s3"), config.claim_bucket, execution)
    return report


def _ends_changes(
    config: settings.Settings,
    environment: settings.Environment,
    action: str,
    event: Mapping[str, Any],
) -> bool:
    """Whether this state, once it succeeds, is the execution's last that can fail into
    Rollback: the last environment's deployment, or its bake's check where it bakes (a BakeAlarm
    there restores every environment, which must still be this execution's alone). The
    definition says which (`release_claim`); an execution started from a definition that did
    not say releases when the last environment's deployment succeeds, as that definition
    expects."""
    said = event.get("release_claim")
    if said is None:
        return action != "bake" and environment is config.environments[-1]
    if not isinstance(said, bool):
        raise InvalidEvent(f"release_claim is {said!r:.80}; expected true or false")
    return said


def claim(
    config: settings.Settings, release: Release, execution: str, event: Mapping[str, Any]
) -> dict[str, Any]:
    """ClaimPipeline: this execution, and no other, may change environments until it ends.
    A holder that ended without success and was never cleaned up (its status change event,
    delivered at best effort, was lost, or its cleanup gave up) is cleaned up here first, by
    the cleanup's own code: what it touched is restored and subscribers hear of it."""
    own = require_str(event, "execution_arn", EXECUTION_ARN, "this execution's ARN")
    prefix = own.rsplit(":", 1)[0]

    def execution_named(name: str) -> dict[str, Any] | None:
        """Its DescribeExecution answer, or None when Step Functions no longer knows it."""
        sfn = client("stepfunctions")
        try:
            answer: dict[str, Any] = sfn.describe_execution(executionArn=f"{prefix}:{name}")
        except sfn.exceptions.ExecutionDoesNotExist:
            return None
        return answer

    def status_of(name: str) -> str:
        described = execution_named(name)
        return records.GONE if described is None else str(described["status"])

    def clean_up(holder: str, status: str) -> None:
        # Its input names the release, for the notification: what a status change carries.
        described = execution_named(holder) or {"name": holder, "status": status}
        LOGGER.info("cleaning up", extra={"execution": execution, "holder": holder})
        try:
            rollback.cleanup(config, described)
        except RollbackFailed as failed:
            raise ExecutionInProgress(
                f"execution {holder} ended {status} without its cleanup, and restoring what it "
                f"touched failed ({failed}); {execution} refuses before it changes anything"
            ) from failed

    records.claim(client("s3"), config.claim_bucket, execution, status_of, clean_up)
    LOGGER.info("pipeline claimed", extra={"execution": execution, "release_id": release.id})
    return {"release_id": release.id, "execution": execution, "claimed": True}


def start(
    config: settings.Settings,
    environment: settings.Environment,
    release: Release,
    execution: str,
) -> dict[str, Any]:
    s3, lam, codedeploy = (
        in_environment(service, environment, execution)
        for service in ("s3", "lambda", "codedeploy")
    )
    found = {t.function: records.read_deployment(s3, t, execution) for t in environment.targets}
    # A retry of a start that got part of the way: a function already deploying (or already on
    # the release) is reported, never deployed a second time.
    pending = [
        t
        for t in environment.targets
        if (record := found[t.function]) is None
        or (record.deployment_id is None and record.state == "started")
    ]
    for target in list(pending):
        record = found[target.function]
        # An attempt that died between starting a deployment and recording it: adopt that
        # deployment rather than refuse it as someone else's.
        adopted = record and deployments.started_for(codedeploy, target, release.id)
        if record and adopted:
            record.deployment_id, record.target_version = adopted
            record.state = "deploying"
            records.write_deployment(s3, target, execution, record)
            _log("deployment adopted", execution, record)
            pending.remove(target)
    if not pending:
        return _report(environment, release, _known(found), "InProgress")
    # Verified before anything is written: a bad artifact leaves the environment untouched.
    # Read with the pipeline's own role, written with the environment's: the code crosses
    # accounts in this handler, and no bucket is opened to another account.
    data = artifacts.fetch(client("s3"), release, config.artifact_bucket)
    # The image functions' image too: a release without one (or with another repository's)
    # leaves the environment untouched.
    image = (
        images.image_uri(config, release)
        if any(t.package_type == images.IMAGE for t in pending)
        else None
    )
    running = {
        t.deployment_group: ids for t in pending if (ids := deployments.active(codedeploy, t))
    }
    if running:
        busy = "; ".join(f"{group}: {' '.join(ids)}" for group, ids in running.items())
        raise DeploymentInProgress(
            f"deployment groups of {environment.name} already have deployments in progress "
            f"({busy}); refusing to start release {release.id}"
        )
    deadline = int(time.time()) + config.deployment_timeout_seconds
    for target in pending:
        if found[target.function] is None:
            current = alias_version(lam, target.function_name, target.alias)
            record = found[target.function] = records.DeploymentRecord(
                environment=environment.name,
                function=target.function,
                release_id=release.id,
                previous_version=current,
                previous_release=release_of(lam, target.function_name, current),
                state="started",
                deadline=deadline,
            )
            records.write_deployment(s3, target, execution, record)
    layers = _publish_layers(config, s3, lam, environment, pending, release)
    versions = _publish(s3, lam, environment, pending, release, data, image, layers)
    for target in pending:
        record = found[target.function]
        assert record is not None
        record.target_version = versions[target.function]
        if record.target_version == record.previous_version:
            record.state = "deployed"
            _log("release already live", execution, record)
        else:
            record.deployment_id = deployments.start(
                codedeploy, target, record.previous_version, record.target_version, release.id
            )
            record.state = "deploying"
            _log("deployment started", execution, record)
        records.write_deployment(s3, target, execution, record)
    return _report(environment, release, _known(found), "InProgress")


def _publish_layers(
    config: settings.Settings,
    s3: Any,
    lam: Any,
    environment: settings.Environment,
    targets: list[settings.Target],
    release: Release,
) -> dict[str, str]:
    """The targets' layers built from the release, published in the environment (name -> ARN).
    Each is read with the pipeline's role and stored in the environment's bucket, like the
    release's zip, for Lambda to read it there."""

    def store(name: str, layer: LayerArtifact) -> release_layers.Content:
        data = artifacts.fetch_layer(client("s3"), release, name)
        stored = s3.put_object(
            Bucket=environment.bucket, Key=layer.key, Body=data, Metadata={"sha256": layer.sha256}
        )
        content = {"S3Bucket": environment.bucket, "S3Key": layer.key}
        if stored.get("VersionId"):
            content["S3ObjectVersion"] = stored["VersionId"]
        return content

    wanted = release_layers.names(layer for t in targets for layer in t.layers)
    return release_layers.publish(lam, config.application, release, wanted, store)


def _publish(
    s3: Any,
    lam: Any,
    environment: settings.Environment,
    targets: list[settings.Target],
    release: Release,
    data: bytes,
    image: str | None,
    layers: dict[str, str],
) -> dict[str, str]:
    """Store the release in the environment's bucket and publish it as a new version of each
    target's function; function -> version. Every code update starts before the first wait.
    An image function gets `image`, the release's image by digest, never by tag: the version
    then runs exactly the image validate checked, and the alias that pins it keeps that image
    through a rollback. The zip is stored for it too: it holds the release's test cases.
    A function with layers built from the release gets their versions (`layers`) first: the
    version published then holds both, and a rollback to the version before restores both."""
    key = release_key(release.id)
    stored = s3.put_object(
        Bucket=environment.bucket, Key=key, Body=data, Metadata={"sha256": release.sha256}
    )
    code = {"S3Bucket": environment.bucket, "S3Key": key}
    if stored.get("VersionId"):
        code["S3ObjectVersion"] = stored["VersionId"]
    waiter = lam.get_waiter("function_updated_v2")
    layered = [t for t in targets if release_layers.names(t.layers)]
    for target in layered:
        lam.update_function_configuration(
            FunctionName=target.function_name,
            Layers=release_layers.resolve(target.layers, layers),
        )
    # A function takes its code only once its configuration update is done.
    for target in layered:
        waiter.wait(FunctionName=target.function_name)
    # The architecture comes with the code (UpdateFunctionCode's Architectures): a function
    # moved from arm64 back to x86_64 keeps arm64 until code arrives saying otherwise, since
    # Terraform leaves x86_64, Lambda's default, unset.
    updated = {
        t.function: lam.update_function_code(
            FunctionName=t.function_name,
            Architectures=[t.architecture],
            **({"ImageUri": image} if t.package_type == images.IMAGE else code),
        )
        for t in targets
    }
    versions = {}
    for target in targets:
        waiter.wait(FunctionName=target.function_name)
        published = lam.publish_version(
            FunctionName=target.function_name,
            Description=describe(release.id),
            CodeSha256=updated[target.function]["CodeSha256"],
        )
        versions[target.function] = str(published["Version"])
    return versions


def status(
    config: settings.Settings,
    environment: settings.Environment,
    release: Release,
    execution: str,
) -> dict[str, Any]:
    s3, codedeploy = (in_environment(s, environment, execution) for s in ("s3", "codedeploy"))
    found: Records = {}
    failed, late = [], []
    for target in environment.targets:
        record = records.read_deployment(s3, target, execution)
        where = f"{target.function} in {environment.name}"
        if record is None or record.release_id != release.id:
            raise InvalidEvent(
                f"execution {execution} started no deployment of release {release.id} to {where}"
            )
        found[target.function] = record
        if record.state == "deployed":
            continue
        if record.deployment_id is None:
            raise InvalidEvent(
                f"execution {execution} has not started the deployment of release {release.id} "
                f"to {where} yet (its start did not finish)"
            )
        state, problem = deployments.describe(codedeploy, record.deployment_id)
        if state == "Succeeded":
            record.state = "deployed"
            records.write_deployment(s3, target, execution, record)
            _log("deployment succeeded", execution, record)
        elif state in deployments.FAILED_STATUSES:
            failed.append(
                f"deployment {record.deployment_id} of {where} ended {state}: "
                f"{problem or 'no reason given'}"
            )
        elif time.time() > record.deadline:
            late.append(f"deployment {record.deployment_id} of {where} is still {state}")
    if failed:
        raise DeploymentFailed(f"release {release.id}: " + "; ".join(failed))
    if late:
        raise DeploymentTimedOut(f"release {release.id}, past its deadline: " + "; ".join(late))
    done = all(record.state == "deployed" for record in found.values())
    return _report(environment, release, found, "Succeeded" if done else "InProgress")


def _known(found: dict[str, records.DeploymentRecord | None]) -> Records:
    return {function: record for function, record in found.items() if record is not None}


def _report(
    environment: settings.Environment, release: Release, found: Records, state: str
) -> dict[str, Any]:
    if state == "InProgress" and all(r.state == "deployed" for r in found.values()):
        state = "Succeeded"
    return {
        "environment": environment.name,
        "release_id": release.id,
        "status": state,
        "functions": {
            function: {
                "deployment_id": record.deployment_id,
                "previous_version": record.previous_version,
                "target_version": record.target_version,
                "state": record.state,
            }
            for function, record in found.items()
        },
    }


def _log(message: str, execution: str, record: records.DeploymentRecord) -> None:
    """One structured line per change: Lambda's JSON log format keeps the extra fields."""
    LOGGER.info(message, extra={"execution": execution, **asdict(record)})

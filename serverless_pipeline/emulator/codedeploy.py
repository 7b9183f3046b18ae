"""CodeDeploy for Lambda in moto: deployments that apply their AppSpec, run its traffic hooks,
are watched by alarms, and StopDeployment.

A deployment settles the first time anyone reads it, compressing CodeDeploy's timeline: it moves
the alias to the target version, lets traffic flow (a callable that invokes the alias, standing
in for the application's users), evaluates the deployment group's alarms on the metrics that
traffic produced, and either succeeds or, as CodeDeploy's automatic rollback does on an alarm,
moves the alias back and fails with ALARM_ACTIVE.
"""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3
from moto.awslambda.utils import get_backend as lambda_backend
from moto.codedeploy.models import CodeDeployBackend, DeploymentInfo
from moto.codedeploy.responses import CodeDeployResponse

from .cloudwatch import alarm_names, breached

# (region, function name, alias) -> None: send traffic through the alias after it moved.
Traffic = Callable[[str, str, str], None]
ACTIVE = ("Created", "Queued", "InProgress", "Baking", "Ready")


def no_traffic(region: str, function_name: str, alias: str) -> None:
    """By default nobody calls the application during a deployment."""


def _next_whole_second() -> datetime.datetime:
    """Wait for the next whole second and return it. moto compares metric timestamps to the
    second, so traffic from this instant on cannot mix with an earlier deployment's."""
    now = datetime.datetime.now(datetime.UTC)
    time.sleep(1 - now.microsecond / 1_000_000)
    return now.replace(microsecond=0) + datetime.timedelta(seconds=1)


@dataclass
class DeploymentEmulator:
    """What the emulated CodeDeploy does while it shifts traffic; change `traffic` at will."""

    traffic: Traffic = no_traffic


@contextmanager
def lambda_deployments(traffic: Traffic = no_traffic) -> Iterator[DeploymentEmulator]:
    """Within this block moto's CodeDeploy runs Lambda deployments to completion."""
    emulator = DeploymentEmulator(traffic)
    original_get = CodeDeployBackend.get_deployment
    original_to_dict = DeploymentInfo.to_dict
    # deployment id -> errorInformation, which moto's DeploymentInfo does not keep
    errors: dict[str, dict[str, str]] = {}
    # hook execution id -> the status its hook reported
    hook_statuses: dict[str, str] = {}

    def finish(deployment: DeploymentInfo, status: str, code: str, message: str) -> None:
        deployment.status = status
        errors[deployment.deployment_id] = {"code": code, "message": message}

    def run_hook(
        region: str, deployment: DeploymentInfo, hooks: dict[str, str], event: str
    ) -> str | None:
        """Invoke the AppSpec's hook for `event` as CodeDeploy does; why it failed, or None."""
        if event not in hooks:
            return None
        execution_id = str(uuid.uuid4())
        boto3.client("lambda", region_name=region).invoke(
            FunctionName=hooks[event],
            Payload=json.dumps(
                {
                    "DeploymentId": deployment.deployment_id,
                    "LifecycleEventHookExecutionId": execution_id,
                }
            ).encode(),
        )
        status = hook_statuses.get(execution_id)
        if status != "Succeeded":
            return f"{event} hook {hooks[event]} reported {status or 'nothing'}"
        return None

    def settle(backend: CodeDeployBackend, deployment: DeploymentInfo) -> None:
        # In progress from here on: a hook that reads the deployment must not settle it again.
        deployment.status = "InProgress"
        content = json.loads(deployment.revision["appSpecContent"]["content"])  # type: ignore[index]
        region = backend.region_name
        hooks = {event: name for hook in content.get("Hooks", []) for event, name in hook.items()}
        lambdas = lambda_backend(backend.account_id, region)
        watched = alarm_names(deployment.deployment_group.alarm_configuration)
        for resource in content["Resources"]:
            for spec in resource.values():
                properties = spec["Properties"]
                name, alias = properties["Name"], properties["Alias"]
                current = str(properties["CurrentVersion"])
                live = lambdas.get_alias(alias, name).function_version
                if live != current:
                    message = f"{name}:{alias} is on {live}, not {current}"
                    finish(deployment, "Failed", "INVALID_REVISION", message)
                    return
                problem = run_hook(region, deployment, hooks, "BeforeAllowTraffic")
                if problem:
                    finish(deployment, "Failed", "HOOK_EXECUTION_FAILURE", problem)
                    return
                lambdas.update_alias(alias, name, str(properties["TargetVersion"]), "", None)  # type: ignore[arg-type]
                shifted_at = _next_whole_second()
                emulator.traffic(region, name, alias)
                firing = breached(region, watched, shifted_at)
                problem = run_hook(region, deployment, hooks, "AfterAllowTraffic")
                if problem:
                    lambdas.update_alias(alias, name, current, "", None)  # type: ignore[arg-type]
                    finish(deployment, "Failed", "HOOK_EXECUTION_FAILURE", problem)
                    return
                if firing:
                    lambdas.update_alias(alias, name, current, "", None)  # type: ignore[arg-type]
                    finish(
                        deployment,
                        "Failed",
                        "ALARM_ACTIVE",
                        f"alarm(s) {', '.join(firing)} went off; {name}:{alias} is back on "
                        f"version {current}",
                    )
                    return
        deployment.status = "Succeeded"

    def get_deployment(backend: CodeDeployBackend, deployment_id: str) -> DeploymentInfo:
        deployment = original_get(backend, deployment_id)
        if deployment.status == "Created":
            settle(backend, deployment)
        return deployment

    def to_dict(deployment: DeploymentInfo) -> dict[str, Any]:
        document = original_to_dict(deployment)
        document["errorInformation"] = errors.get(deployment.deployment_id, {})
        return document

    def stop_deployment(response: CodeDeployResponse) -> str:
        deployment = response.codedeploy_backend.deployments[response._get_param("deploymentId")]
        if deployment.status in ACTIVE:
            finish(deployment, "Stopped", "DEPLOYMENT_STOPPED", "stopped by StopDeployment")
        return json.dumps({"status": "Succeeded", "statusMessage": "stopped"})

    def put_lifecycle_event_hook_execution_status(response: CodeDeployResponse) -> str:
        execution_id = response._get_param("lifecycleEventHookExecutionId")
        hook_statuses[execution_id] = response._get_param("status")
        return json.dumps({"lifecycleEventHookExecutionId": execution_id})

    with (
        mock.patch.object(
            CodeDeployResponse,
            "put_lifecycle_event_hook_execution_status",
            put_lifecycle_event_hook_execution_status,
            create=True,
        ),
        mock.patch.object(CodeDeployBackend, "get_deployment", get_deployment),
        mock.patch.object(DeploymentInfo, "to_dict", to_dict),
        mock.patch.object(CodeDeployResponse, "stop_deployment", stop_deployment, create=True),
    ):
        yield emulator

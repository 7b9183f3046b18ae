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


class _Deployments:
    """What moto's CodeDeploy lacks, for Lambda: settling a deployment (hooks, the alias, alarms),
    its error information, StopDeployment and hook status reports."""

    def __init__(self, emulator: DeploymentEmulator) -> None:
        self.emulator = emulator
        self.original_get = CodeDeployBackend.get_deployment
        self.original_to_dict = DeploymentInfo.to_dict
        # deployment id -> errorInformation, which moto's DeploymentInfo does not keep
        self.errors: dict[str, dict[str, str]] = {}
        # hook execution id -> the status its hook reported
        self.hook_statuses: dict[str, str] = {}

    def finish(self, deployment: DeploymentInfo, status: str, code: str, message: str) -> None:
        deployment.status = status
        self.errors[deployment.deployment_id] = {"code": code, "message": message}

    def run_hook(
        self, region: str, deployment: DeploymentInfo, hooks: dict[str, str], event: str
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
        status = self.hook_statuses.get(execution_id)
        if status != "Succeeded":
            return f"{event} hook {hooks[event]} reported {status or 'nothing'}"
        return None

    def settle(self, backend: CodeDeployBackend, deployment: DeploymentInfo) -> None:
        # In progress from here on: a hook that reads the deployment must not settle it again.
        deployment.status = "InProgress"
        content = json.loads(deployment.revision["appSpecContent"]["content"])  # type: ignore[index]
        hooks = {event: name for hook in content.get("Hooks", []) for event, name in hook.items()}
        for resource in content["Resources"]:
            for spec in resource.values():
                if not self.shift(backend, deployment, spec["Properties"], hooks):
                    return
        deployment.status = "Succeeded"

    def shift(
        self,
        backend: CodeDeployBackend,
        deployment: DeploymentInfo,
        properties: dict[str, Any],
        hooks: dict[str, str],
    ) -> bool:
        """One alias through its hooks, traffic and alarms; False when the deployment failed
        (the alias is then back on its current version, as CodeDeploy's rollback leaves it)."""
        region = backend.region_name
        lambdas = lambda_backend(backend.account_id, region)
        name, alias = properties["Name"], properties["Alias"]
        current = str(properties["CurrentVersion"])
        live = lambdas.get_alias(alias, name).function_version
        if live != current:
            message = f"{name}:{alias} is on {live}, not {current}"
            self.finish(deployment, "Failed", "INVALID_REVISION", message)
            return False
        problem = self.run_hook(region, deployment, hooks, "BeforeAllowTraffic")
        if problem:
            self.finish(deployment, "Failed", "HOOK_EXECUTION_FAILURE", problem)
            return False
        lambdas.update_alias(alias, name, str(properties["TargetVersion"]), "", None)  # type: ignore[arg-type]
        shifted_at = _next_whole_second()
        self.emulator.traffic(region, name, alias)
        watched = alarm_names(deployment.deployment_group.alarm_configuration)
        firing = breached(region, watched, shifted_at)
        problem = self.run_hook(region, deployment, hooks, "AfterAllowTraffic")
        if problem or firing:
            lambdas.update_alias(alias, name, current, "", None)  # type: ignore[arg-type]
            if problem:
                self.finish(deployment, "Failed", "HOOK_EXECUTION_FAILURE", problem)
            else:
                self.finish(
                    deployment,
                    "Failed",
                    "ALARM_ACTIVE",
                    f"alarm(s) {', '.join(firing)} went off; {name}:{alias} is back on "
                    f"version {current}",
                )
            return False
        return True

    def get_deployment(self, backend: CodeDeployBackend, deployment_id: str) -> DeploymentInfo:
        deployment = self.original_get(backend, deployment_id)
        if deployment.status == "Created":
            self.settle(backend, deployment)
        return deployment

    def to_dict(self, deployment: DeploymentInfo) -> dict[str, Any]:
        document = self.original_to_dict(deployment)
        document["errorInformation"] = self.errors.get(deployment.deployment_id, {})
        return document

    def stop_deployment(self, response: CodeDeployResponse) -> str:
        deployment = response.codedeploy_backend.deployments[response._get_param("deploymentId")]
        if deployment.status in ACTIVE:
            self.finish(deployment, "Stopped", "DEPLOYMENT_STOPPED", "stopped by StopDeployment")
        return json.dumps({"status": "Succeeded", "statusMessage": "stopped"})

    def put_hook_status(self, response: CodeDeployResponse) -> str:
        execution_id = response._get_param("lifecycleEventHookExecutionId")
        self.hook_statuses[execution_id] = response._get_param("status")
        return json.dumps({"lifecycleEventHookExecutionId": execution_id})


@contextmanager
def lambda_deployments(traffic: Traffic = no_traffic) -> Iterator[DeploymentEmulator]:
    """Within this block moto's CodeDeploy runs Lambda deployments to completion."""
    emulator = DeploymentEmulator(traffic)
    state = _Deployments(emulator)
    # Plain functions, not bound methods: moto calls them as methods of its own objects.
    with (
        mock.patch.object(
            CodeDeployResponse,
            "put_lifecycle_event_hook_execution_status",
            lambda response: state.put_hook_status(response),
            create=True,
        ),
        mock.patch.object(
            CodeDeployBackend,
            "get_deployment",
            lambda backend, deployment_id: state.get_deployment(backend, deployment_id),
        ),
        mock.patch.object(DeploymentInfo, "to_dict", lambda info: state.to_dict(info)),
        mock.patch.object(
            CodeDeployResponse,
            "stop_deployment",
            lambda response: state.stop_deployment(response),
            create=True,
        ),
    ):
        yield emulator

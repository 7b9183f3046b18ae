"""CodeDeploy for Lambda in moto: deployments that apply their AppSpec, run its traffic hooks,
are watched by alarms for as long as their traffic shift takes, and StopDeployment.

A deployment starts the first time anyone reads it: it runs the BeforeAllowTraffic hook, moves
the alias to the target version and lets traffic flow (a callable that invokes the alias,
standing in for the application's users). It stays in progress for as long as its deployment
config shifts traffic (a canary's interval, every step of a linear shift), counted on the
emulator's clock (emulator/clock.py), which the state machine's Wait states advance. The first
read after that evaluates the deployment group's alarms on the metrics of that traffic and runs
the AfterAllowTraffic hook; it succeeds, or, as CodeDeploy's automatic rollback does, moves the
alias back and fails (ALARM_ACTIVE, HOOK_EXECUTION_FAILURE).
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from moto.awslambda.utils import get_backend as lambda_backend
from moto.codedeploy import responses as codedeploy_responses
from moto.codedeploy.models import CodeDeployBackend, DeploymentInfo
from moto.codedeploy.responses import CodeDeployResponse

from ..application_settings import shift_minutes
from .accounts import account_client
from .clock import CLOCK
from .cloudwatch import alarm_names, breached

# (account, region, function name, alias) -> None: send traffic through the alias after it
# moved.
Traffic = Callable[[str, str, str, str], None]
ACTIVE = ("Created", "Queued", "InProgress", "Baking", "Ready")


def no_traffic(account_id: str, region: str, function_name: str, alias: str) -> None:
    """By default nobody calls the application during a deployment."""


@dataclass
class _Shifting:
    """A deployment whose traffic is shifting: what it moved, and until when (emulator clock)."""

    resources: list[dict[str, Any]]
    hooks: dict[str, str]
    shifted_at: datetime.datetime
    done_at: float


def nobody_watches(function_names: list[str]) -> None:
    """By default nobody acts on a deployment that starts shifting."""


@dataclass
class DeploymentEmulator:
    """What the emulated CodeDeploy does while it shifts traffic; change `traffic` and
    `started` at will."""

    traffic: Traffic = no_traffic
    started: Callable[[list[str]], None] = nobody_watches
    """Told the functions of a deployment once their traffic shifts (an operator watching)."""


class _Deployments:
    """What moto's CodeDeploy lacks, for Lambda: settling a deployment (hooks, the alias, alarms),
    its error information, StopDeployment and hook status reports."""

    def __init__(self, emulator: DeploymentEmulator) -> None:
        self.emulator = emulator
        self.original_get = CodeDeployBackend.get_deployment
        self.original_info = codedeploy_responses._deployment_info
        # deployment id -> errorInformation, which moto's DeploymentInfo does not keep
        self.errors: dict[str, dict[str, str]] = {}
        # hook execution id -> the status its hook reported
        self.hook_statuses: dict[str, str] = {}
        # deployment id -> its shift, while traffic is shifting
        self.shifting: dict[str, _Shifting] = {}

    def finish(self, deployment: DeploymentInfo, status: str, code: str, message: str) -> None:
        deployment.status = status
        self.errors[deployment.deployment_id] = {"code": code, "message": message}

    def run_hook(
        self,
        backend: CodeDeployBackend,
        deployment: DeploymentInfo,
        hooks: dict[str, str],
        event: str,
    ) -> str | None:
        """Invoke the AppSpec's hook for `event` as CodeDeploy does, in the deployment's own
        account and region; why it failed, or None."""
        if event not in hooks:
            return None
        execution_id = str(uuid.uuid4())
        account_client("lambda", backend.account_id, backend.region_name).invoke(
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

    def start(self, backend: CodeDeployBackend, deployment: DeploymentInfo) -> None:
        """Hooks before traffic, the alias moved, users' traffic; then the shift takes its time."""
        # In progress from here on: a hook that reads the deployment must not start it again.
        deployment.status = "InProgress"
        content = json.loads(deployment.revision["appSpecContent"]["content"])
        hooks = {event: name for hook in content.get("Hooks", []) for event, name in hook.items()}
        resources = [spec["Properties"] for r in content["Resources"] for spec in r.values()]
        for properties in resources:
            if not self.shift(backend, deployment, properties, hooks):
                return
        shifted_at = CLOCK.next_whole_second()
        for properties in resources:
            self.emulator.traffic(
                backend.account_id, backend.region_name, properties["Name"], properties["Alias"]
            )
        config = deployment.deployment_group.deployment_config_name or ""
        minutes = shift_minutes(config) or 0
        self.shifting[deployment.deployment_id] = _Shifting(
            resources, hooks, shifted_at, CLOCK.time() + 60 * minutes
        )
        self.emulator.started([p["Name"] for p in resources])
        self.advance(backend, deployment)

    def advance(self, backend: CodeDeployBackend, deployment: DeploymentInfo) -> None:
        """Once the shift's time has passed: alarms, hooks after traffic, the outcome."""
        shifting = self.shifting.get(deployment.deployment_id)
        if shifting is None or CLOCK.time() < shifting.done_at:
            return
        del self.shifting[deployment.deployment_id]
        region = backend.region_name
        watched = alarm_names(deployment.deployment_group.alarm_configuration)
        firing = breached(backend.account_id, region, watched, shifting.shifted_at)
        problem = self.run_hook(backend, deployment, shifting.hooks, "AfterAllowTraffic")
        if not (problem or firing):
            deployment.status = "Succeeded"
            return
        lambdas = lambda_backend(backend.account_id, region)
        for properties in shifting.resources:
            name, alias = properties["Name"], properties["Alias"]
            lambdas.update_alias(alias, name, str(properties["CurrentVersion"]), "", None)  # type: ignore[arg-type]
        if problem:
            self.finish(deployment, "Failed", "HOOK_EXECUTION_FAILURE", problem)
        else:
            moved = ", ".join(f"{p['Name']}:{p['Alias']}" for p in shifting.resources)
            self.finish(
                deployment,
                "Failed",
                "ALARM_ACTIVE",
                f"alarm(s) {', '.join(firing)} went off; {moved} is back on its current version",
            )

    def shift(
        self,
        backend: CodeDeployBackend,
        deployment: DeploymentInfo,
        properties: dict[str, Any],
        hooks: dict[str, str],
    ) -> bool:
        """One alias through its BeforeAllowTraffic hook to the target version; False when the
        deployment failed (the alias then still serves its current version)."""
        region = backend.region_name
        lambdas = lambda_backend(backend.account_id, region)
        name, alias = properties["Name"], properties["Alias"]
        current = str(properties["CurrentVersion"])
        live = lambdas.get_alias(alias, name).function_version
        if live != current:
            message = f"{name}:{alias} is on {live}, not {current}"
            self.finish(deployment, "Failed", "INVALID_REVISION", message)
            return False
        problem = self.run_hook(backend, deployment, hooks, "BeforeAllowTraffic")
        if problem:
            self.finish(deployment, "Failed", "HOOK_EXECUTION_FAILURE", problem)
            return False
        lambdas.update_alias(alias, name, str(properties["TargetVersion"]), "", None)  # type: ignore[arg-type]
        return True

    def get_deployment(self, backend: CodeDeployBackend, deployment_id: str) -> DeploymentInfo:
        deployment = self.original_get(backend, deployment_id)
        if deployment.status == "Created":
            self.start(backend, deployment)
        elif deployment.status == "InProgress":
            self.advance(backend, deployment)
        return deployment

    def deployment_info(self, deployment: DeploymentInfo) -> dict[str, Any]:
        """moto's deploymentInfo of a deployment, with the errorInformation it leaves empty."""
        document: dict[str, Any] = self.original_info(deployment)
        document["errorInformation"] = self.errors.get(deployment.deployment_id, {})
        return document

    def stop_deployment(self, response: CodeDeployResponse) -> str:
        deployment = response.codedeploy_backend.deployments[response._get_param("deploymentId")]
        if deployment.status in ACTIVE:
            self.shifting.pop(deployment.deployment_id, None)
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
        mock.patch.object(
            codedeploy_responses, "_deployment_info", lambda info: state.deployment_info(info)
        ),
        mock.patch.object(
            CodeDeployResponse,
            "stop_deployment",
            lambda response: state.stop_deployment(response),
            create=True,
        ),
    ):
        yield emulator

"""CodeDeploy for Lambda in moto: deployments that apply their AppSpec, and StopDeployment.

A deployment settles the first time anyone reads it. Before it moves the alias it runs the
traffic hook, as CodeDeploy runs a BeforeAllowTraffic hook: a hook that reports a failure fails
the deployment and leaves the alias where it was, the way an alarm or a failing hook does in AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.awslambda.utils import get_backend as lambda_backend
from moto.codedeploy.models import CodeDeployBackend, DeploymentInfo
from moto.codedeploy.responses import CodeDeployResponse

# (function name, alias, target version) -> why the new version is unhealthy, or None.
TrafficHook = Callable[[str, str, str], "str | None"]
ACTIVE = ("Created", "Queued", "InProgress", "Baking", "Ready")


def healthy(function_name: str, alias: str, version: str) -> str | None:
    """The default hook: every new version is healthy."""
    return None


@contextmanager
def lambda_deployments(hook: TrafficHook = healthy) -> Iterator[None]:
    """Within this block moto's CodeDeploy runs Lambda deployments to completion."""
    original_get = CodeDeployBackend.get_deployment
    original_to_dict = DeploymentInfo.to_dict
    # deployment id -> errorInformation, which moto's DeploymentInfo does not keep
    errors: dict[str, dict[str, str]] = {}

    def finish(deployment: DeploymentInfo, status: str, code: str, message: str) -> None:
        deployment.status = status
        errors[deployment.deployment_id] = {"code": code, "message": message}

    def settle(backend: CodeDeployBackend, deployment: DeploymentInfo) -> None:
        content = json.loads(deployment.revision["appSpecContent"]["content"])  # type: ignore[index]
        lambdas = lambda_backend(backend.account_id, backend.region_name)
        for resource in content["Resources"]:
            for spec in resource.values():
                properties = spec["Properties"]
                name, alias = properties["Name"], properties["Alias"]
                target = str(properties["TargetVersion"])
                current = lambdas.get_alias(alias, name).function_version
                if current != str(properties["CurrentVersion"]):
                    message = f"{name}:{alias} is on {current}, not {properties['CurrentVersion']}"
                    finish(deployment, "Failed", "INVALID_REVISION", message)
                    return
                problem = hook(name, alias, target)
                if problem is not None:
                    finish(deployment, "Failed", "HOOK_EXECUTION_FAILURE", problem)
                    return
                lambdas.update_alias(alias, name, target, "", None)  # type: ignore[arg-type]
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

    with (
        mock.patch.object(CodeDeployBackend, "get_deployment", get_deployment),
        mock.patch.object(DeploymentInfo, "to_dict", to_dict),
        mock.patch.object(CodeDeployResponse, "stop_deployment", stop_deployment, create=True),
    ):
        yield

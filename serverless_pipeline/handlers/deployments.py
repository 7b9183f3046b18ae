"""CodeDeploy for a Lambda alias: the AppSpec, starting a deployment, reading its state."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .settings import Target

# Every status in which a deployment still holds its deployment group.
ACTIVE_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready")
FAILED_STATUSES = ("Failed", "Stopped")


def appspec(
    function_name: str,
    alias: str,
    current: str,
    target: str,
    hooks: Mapping[str, str] | None = None,
) -> str:
    """The AppSpec that shifts `alias` of `function_name` from version `current` to `target`,
    running the lifecycle hooks (BeforeAllowTraffic, AfterAllowTraffic) when given."""
    document: dict[str, Any] = {
        "version": 0.0,
        "Resources": [
            {
                function_name: {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": function_name,
                        "Alias": alias,
                        "CurrentVersion": current,
                        "TargetVersion": target,
                    },
                }
            }
        ],
    }
    if hooks:
        document["Hooks"] = [{event: function} for event, function in sorted(hooks.items())]
    return json.dumps(document, sort_keys=True)


def active(codedeploy: Any, target: Target) -> list[str]:
    """Ids of the deployments of the target's group that have not finished."""
    response = codedeploy.list_deployments(
        applicationName=target.application,
        deploymentGroupName=target.deployment_group,
        includeOnlyStatuses=list(ACTIVE_STATUSES),
    )
    ids: list[str] = response.get("deployments", [])
    return ids


def start(codedeploy: Any, target: Target, current: str, version: str, release_id: str) -> str:
    """Shift the target's alias from version `current` to `version`; the deployment's id."""
    content = appspec(target.function_name, target.alias, current, version, target.hooks)
    response = codedeploy.create_deployment(
        applicationName=target.application,
        deploymentGroupName=target.deployment_group,
        description=description(release_id),
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {
                "content": content,
                "sha256": hashlib.sha256(content.encode()).hexdigest(),
            },
        },
    )
    deployment_id: str = response["deploymentId"]
    return deployment_id


def appspec_target(info: Mapping[str, Any]) -> dict[str, Any]:
    """The Properties (Name, Alias, CurrentVersion, TargetVersion) of the function a
    deployment (GetDeployment's deploymentInfo) shifts: the AppSpec `appspec` wrote."""
    spec = json.loads(info["revision"]["appSpecContent"]["content"])
    properties: dict[str, Any] = next(iter(spec["Resources"][0].values()))["Properties"]
    return properties


def description(release_id: str) -> str:
    """How a deployment names its release: a retried start finds its own deployment by it."""
    return f"release {release_id}"


def started_for(codedeploy: Any, target: Target, release_id: str) -> tuple[str, str] | None:
    """(deployment id, target version) of the target's running deployment of this release, if
    an earlier attempt started one and died before recording it."""
    for deployment_id in active(codedeploy, target):
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if info.get("description") != description(release_id):
            continue
        return deployment_id, str(appspec_target(info)["TargetVersion"])
    return None


def describe(codedeploy: Any, deployment_id: str) -> tuple[str, str]:
    """(status, what CodeDeploy says went wrong, or '')."""
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    error = info.get("errorInformation") or {}
    message = " ".join(str(error.get(k, "")) for k in ("code", "message")).strip()
    return info["status"], message


def stop(codedeploy: Any, deployment_id: str) -> None:
    """Stop a deployment without CodeDeploy's own redeploy; rollback sets the alias itself.
    One that already ended needs no stopping."""
    try:
        codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=False)
    except codedeploy.exceptions.DeploymentAlreadyCompletedException:
        return

"""Rollback: put every environment this execution touched back on the release it served before.

It reads the records promote wrote before changing anything, so it needs nothing from the failed
state's output. Idempotent: an environment already back on its previous version, or one without
a record (never touched), is left as it is. It tries every environment before it reports.
"""

from __future__ import annotations

from typing import Any

import boto3

from . import deployments, records, settings
from .errors import RollbackFailed
from .events import ENVIRONMENTS, parse_execution, parse_release, require_mapping
from .lambda_versions import release_of


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings.load()
    event = require_mapping(event, "event")
    release = parse_release(event)
    execution = parse_execution(event)
    s3, lam, codedeploy = boto3.client("s3"), boto3.client("lambda"), boto3.client("codedeploy")
    outcomes, problems = {}, []
    # Production first: it is the environment users are on.
    for name in reversed(ENVIRONMENTS):
        environment = config.environment(name)
        try:
            outcomes[name] = restore(s3, lam, codedeploy, environment, execution)
        except Exception as error:
            problems.append(f"{name}: {type(error).__name__}: {error}")
    if problems:
        raise RollbackFailed(f"release {release.id}: " + "; ".join(problems))
    return {"release_id": release.id, "environments": outcomes}


def restore(
    s3: Any, lam: Any, codedeploy: Any, environment: settings.Environment, execution: str
) -> dict[str, Any]:
    record = records.read(s3, environment.bucket, execution, environment.name)
    if record is None:
        return {"action": "untouched"}
    for deployment_id in deployments.active(codedeploy, environment):
        deployments.stop(codedeploy, deployment_id)
    previous = record["previous_version"]
    alias = lam.get_alias(FunctionName=environment.function_name, Name=environment.alias)
    weights = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights")
    action = "already_restored"
    if alias["FunctionVersion"] != previous or weights:
        lam.update_alias(
            FunctionName=environment.function_name,
            Name=environment.alias,
            FunctionVersion=previous,
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
        action = "restored"
    record["state"] = "rolled_back"
    records.write(s3, environment.bucket, execution, environment.name, record)
    return {
        "action": action,
        "live_version": previous,
        "live_release": release_of(lam, environment.function_name, previous),
    }

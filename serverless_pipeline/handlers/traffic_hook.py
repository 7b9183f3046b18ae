"""The library's CodeDeploy traffic hook: smoke-test the new version before (or after) traffic.

CodeDeploy invokes it with a deployment id and a hook execution id. It reads from the
deployment which function, version and release are being deployed, runs the release's "smoke"
test cases against that exact version (with the environment's configuration), and reports
Succeeded or Failed through PutLifecycleEventHookExecutionStatus; a failure stops the
deployment and CodeDeploy rolls the alias back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ReadTimeoutError

from . import archive, deployments, settings
from .case_runner import invoke_case, invoke_client, judge
from .clients import client
from .errors import InvalidEvent
from .events import release_key, require_mapping
from .lambda_versions import release_of

LOGGER = logging.getLogger(__name__)
# Stop starting cases when less than this is left of the function's time: enough to report.
REPORT_MARGIN_SECONDS = 20


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings.load()
    event = require_mapping(event, "event")
    deployment_id, hook_id = event.get("DeploymentId"), event.get("LifecycleEventHookExecutionId")
    if not isinstance(deployment_id, str) or not isinstance(hook_id, str):
        raise InvalidEvent(
            "expected CodeDeploy's hook event with DeploymentId and LifecycleEventHookExecutionId"
        )
    codedeploy = client("codedeploy")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    try:
        failures, ran = smoke_test(
            config, codedeploy, deployment_id, (lambda: remaining() / 1000) if remaining else None
        )
    except Exception as error:  # any failure to test is a failed hook, reported to CodeDeploy
        failures, ran = [f"{type(error).__name__}: {error}"], 0
    status = "Failed" if failures else "Succeeded"
    LOGGER.info(
        "traffic hook",
        extra={"deployment": deployment_id, "status": status, "cases": ran, "failures": failures},
    )
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=hook_id, status=status
    )
    return {"deployment_id": deployment_id, "status": status, "cases": ran, "failures": failures}


def smoke_test(
    config: settings.Settings,
    codedeploy: Any,
    deployment_id: str,
    seconds_left: Callable[[], float] | None = None,
) -> tuple[list[str], int]:
    """(failures, cases run) of the release's smoke cases against the deployment's target.

    A hook that dies of its own timeout never reports, and CodeDeploy then waits out its hour
    before failing the deployment; so cases stop, as a failure, while there is still time to
    report (`seconds_left`, from the Lambda context)."""
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    properties = deployments.appspec_target(info)
    deployed = next(
        (
            t
            for e in config.environments
            for t in e.targets
            if t.function_name == properties["Name"]
        ),
        None,
    )
    if deployed is None:
        raise InvalidEvent(f"{properties['Name']} is not a function of this pipeline")
    default = config.functions[0].name
    invoker = invoke_client()
    target = str(properties["TargetVersion"])
    # The release a version carries is what promote published it as (lambda_versions).
    release_id = release_of(invoker, deployed.function_name, target)
    if release_id is None:
        raise InvalidEvent(f"{deployed.function_name}:{target} carries no release")
    data = (
        client("s3").get_object(Bucket=deployed.bucket, Key=release_key(release_id))["Body"].read()
    )
    bundle = archive.open_archive(data)
    # The smoke cases of the function being deployed (each function's deployment runs its own).
    cases = [
        c
        for c in archive.load_manifest(bundle, config.test_manifest)
        if "smoke" in c.stages and (c.function or default) == deployed.function
    ]
    failures = []
    for ran, case in enumerate(cases):
        if seconds_left is not None and seconds_left() < REPORT_MARGIN_SECONDS:
            failures.append(f"ran out of time after {ran} of {len(cases)} smoke cases")
            return failures, ran
        if seconds_left is not None:
            # Stop waiting for a case while there is still time to report.
            invoker = invoke_client(seconds_left() - REPORT_MARGIN_SECONDS)
        try:
            outcome = invoke_case(invoker, deployed.function_name, target, case)
        except ReadTimeoutError as error:
            outcome = {"errorType": "Sandbox.Timedout", "errorMessage": str(error)}
        reason = judge(case, outcome)
        if reason:
            failures.append(f"{case.name}: {reason}")
    return failures, len(cases)

"""Rollback: put every function of every environment this execution touched back on the release
it served before, including functions whose own deployment succeeded: a release is atomic.

It runs in two ways: as the state machine's Rollback state, and as the cleanup, for an execution
that ended aborted, timed out or failed however it got there (an operator's StopExecution, the
execution's time limit, an error outside any Catch). The cleanup rule invokes it with Step
Functions' status change event; as that event is delivered at best effort, the next execution's
ClaimPipeline runs the same cleanup (promote.claim) when it finds such an execution still holding
the pipeline. After the state machine's own Rollback the cleanup finds everything restored and
stays quiet; otherwise it restores and tells subscribers what it did.

It reads the records promote wrote before changing anything, so it needs nothing from the failed
state's output. Idempotent: a function already back on its previous version, or one without a
record (never touched), is left as it is. It tries every function before it reports.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from botocore.exceptions import ClientError

from . import deployments, records, settings
from .clients import client, in_environment
from .errors import InvalidEvent, RollbackFailed
from .events import (
    EXECUTION_ARN,
    EXECUTION_NAME,
    parse_execution,
    parse_release,
    require_mapping,
    require_one_of,
    require_str,
)
from .lambda_versions import release_of

LOGGER = logging.getLogger(__name__)
# Execution-history events of a task that failed (its Catch, if any, then takes the error).
FAILURE_EVENTS = frozenset(
    {"TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut"}
)


STATUS_CHANGE = "Step Functions Execution Status Change"
# The error names Step Functions keeps for itself.
STATES_PREFIX = "States."
# The endings the cleanup rule matches.
UNFINISHED = records.ENDED_BADLY


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings.load()
    event = require_mapping(event, "event")
    if event.get("detail-type") == STATUS_CHANGE:
        return cleanup(config, require_mapping(event.get("detail"), "detail"))
    release = parse_release(event)
    execution = parse_execution(event)
    outcomes = restore_all(config, execution, release.id)
    return {
        "release_id": release.id,
        "environments": outcomes,
        "failed_state": failed_state(event.get("execution_arn")),
        "error": (caught := caught_error(event.get("error"))),
        "failure": failure(caught),
    }


def caught_error(error: Any) -> dict[str, str]:
    """The error the state machine caught, with a Cause even where Step Functions gave none:
    a task that ran past its TimeoutSeconds fails with States.Timeout and, the cause being
    optional (Step Functions API reference, TaskTimedOutEventDetails), may carry none. The
    notification reads both from here."""
    error = error if isinstance(error, Mapping) else {}
    name = error.get("Error")
    name = name if isinstance(name, str) and name else "States.Unknown"
    cause = error.get("Cause")
    if not isinstance(cause, str) or not cause:
        cause = f"{name}: Step Functions gave no cause"
    return {"Error": name, "Cause": cause}


def failure(caught: Mapping[str, str]) -> dict[str, str]:
    """What the execution fails with once it rolled back (the ReleaseFailed state): the caught
    error, except that a Fail state may not name an error of Step Functions' own ("the error
    names cannot begin with the States. prefix", Step Functions developer guide, "Error
    names"), so States.Timeout ends the execution as Release.Timeout, its cause naming the
    original."""
    name, cause = caught["Error"], caught["Cause"]
    if not name.startswith(STATES_PREFIX):
        return {"Error": name, "Cause": cause}
    renamed = "Release." + name.removeprefix(STATES_PREFIX)
    return {"Error": renamed, "Cause": cause if cause.startswith(name) else f"{name}: {cause}"}


def cleanup(config: settings.Settings, detail: Mapping[str, Any]) -> dict[str, Any]:
    """An execution ended without success: restore what it touched, and say so if anything
    was left to restore (the state machine's own Rollback leaves nothing). `detail` is its
    status change event's, or its DescribeExecution answer (the next execution's claim cleans
    up after one whose event never came: promote.claim). Only while it still holds the
    pipeline: once it released it (its Rollback ran, or its release went live everywhere),
    another execution may be deploying, and a late or repeated cleanup must not touch that
    one's functions."""
    status = require_one_of(detail, "status", UNFINISHED)
    execution = require_str(detail, "name", EXECUTION_NAME, "the execution's name")
    if not records.holds(client("s3"), config.claim_bucket, execution):
        LOGGER.info("cleanup: nothing to do", extra={"execution": execution, "status": status})
        return {"status": status, "execution": execution, "environments": {}}
    try:
        release_id: str = parse_release(json.loads(detail.get("input") or "{}")).id
    except (InvalidEvent, ValueError):
        release_id = "unknown"  # records say what to restore; the release only names it
    outcomes = restore_all(config, execution, release_id)
    restored = {
        environment: sorted(f for f, outcome in done.items() if outcome["action"] == "restored")
        for environment, done in outcomes.items()
    }
    restored = {environment: names for environment, names in restored.items() if names}
    if restored:
        client("sns").publish(
            TopicArn=config.topic(),
            Subject=f"Release {release_id} rolled back after its execution ended {status}",
            Message=json.dumps(
                {
                    "release": release_id,
                    "outcome": "rolled_back",
                    "execution": execution,
                    "status": status,
                    "restored": restored,
                },
                sort_keys=True,
            ),
        )
    LOGGER.info(
        "cleanup",
        extra={"execution": execution, "status": status, "restored": restored},
    )
    return {"release_id": release_id, "status": status, "environments": outcomes}


def restore_all(
    config: settings.Settings, execution: str, release_id: str
) -> dict[str, dict[str, Any]]:
    """Every function of every environment back on what it served before the execution,
    trying them all before reporting; RollbackFailed names each that could not be."""
    outcomes: dict[str, dict[str, Any]] = {}
    problems = []
    # The last environment first: it is the one users are on.
    for environment in reversed(config.environments):
        outcomes[environment.name] = {}
        for target in environment.targets:
            try:
                s3, lam, codedeploy = (
                    in_environment(service, environment, execution)
                    for service in ("s3", "lambda", "codedeploy")
                )
                outcomes[environment.name][target.function] = restore(
                    s3, lam, codedeploy, target, execution
                )
            except Exception as error:
                problems.append(
                    f"{target.function} in {environment.name}: {type(error).__name__}: {error}"
                )
    if problems:
        raise RollbackFailed(f"release {release_id}: " + "; ".join(problems))
    # Everything it touched is restored: the next execution may go.
    records.release(client("s3"), config.claim_bucket, execution)
    return outcomes


def failed_state(execution_arn: Any) -> str | None:
    """The state whose error sent this execution to Rollback, for the notification. Only
    informative: when it cannot be read, the rollback still counts as done."""
    if not isinstance(execution_arn, str) or not EXECUTION_ARN.fullmatch(execution_arn):
        return None
    try:
        pages = (
            client("stepfunctions")
            .get_paginator("get_execution_history")
            .paginate(executionArn=execution_arn)
        )
        events = [event for page in pages for event in page["events"]]
    except ClientError:
        return None
    current, failed = None, None
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details:
            if details["name"] == "Rollback":
                break
            current = details["name"]
        elif event["type"] in FAILURE_EVENTS:
            failed = current
    return failed


def restore(
    s3: Any, lam: Any, codedeploy: Any, target: settings.Target, execution: str
) -> dict[str, Any]:
    record = records.read_deployment(s3, target, execution)
    if record is None:
        return {"action": "untouched"}
    previous = record.previous_version
    if record.state == "rolled_back":
        # Restored already (by this execution's Rollback, or an earlier attempt): touching the
        # function again could undo what a later execution has deployed since.
        return {
            "action": "already_restored",
            "live_version": previous,
            "live_release": record.previous_release,
        }
    # Only this execution's own deployment: one that promote recorded, or one it started and
    # died before recording.
    own = record.deployment_id
    if own is None:
        started = deployments.started_for(codedeploy, target, record.release_id)
        own = started[0] if started else None
    if own is not None:
        deployments.stop(codedeploy, own)
    alias = lam.get_alias(FunctionName=target.function_name, Name=target.alias)
    weights = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights")
    action = "already_restored"
    if alias["FunctionVersion"] != previous or weights:
        lam.update_alias(
            FunctionName=target.function_name,
            Name=target.alias,
            FunctionVersion=previous,
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
        action = "restored"
    record.state = "rolled_back"
    records.write_deployment(s3, target, execution, record)
    LOGGER.info(
        "environment restored",
        extra={"execution": execution, "action": action, **asdict(record)},
    )
    return {
        "action": action,
        "live_version": previous,
        "live_release": release_of(lam, target.function_name, previous),
    }

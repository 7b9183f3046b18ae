"""WaitForApproval (before the last environment) and WaitForApproval<Env>: a person approves or
rejects a release before it reaches an environment.

Action "request" runs inside the state machine's callback task: it records the task token in
the last environment's bucket, keyed by execution (an execution waits at one gate at a time),
and notifies the topic. Actions "approve" and "reject" are what a person invokes; they must name
the release and the environment that wait, so an approval given for an older release, or for
an earlier gate of the same release, can never open another.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from botocore.exceptions import ClientError

from . import records, settings
from .clients import client
from .errors import ApprovalMismatch, InvalidEvent
from .events import (
    EXECUTION_NAME,
    RELEASE_ID,
    parse_execution,
    parse_release,
    require_mapping,
    require_one_of,
    require_str,
)

ACTIONS = ("request", "approve", "reject")
LOGGER = logging.getLogger(__name__)


def key(execution: str) -> str:
    return f"approvals/{execution}.json"


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings.load()
    event = require_mapping(event, "event")
    action = require_one_of(event, "action", ACTIONS)
    bucket = config.approvals_bucket
    s3 = client("s3")
    if action == "request":
        names = config.environment_names
        gate = require_one_of(
            {"environment": event.get("environment", names[-1])}, "environment", names
        )
        before = names[: names.index(gate)]
        return request(
            s3,
            bucket,
            event,
            getattr(context, "function_name", "the approval function"),
            config.topic(),
            gate,
            before[-1] if before else None,
        )
    return decide(s3, bucket, event, approved=action == "approve")


def request(
    s3: Any,
    bucket: str,
    event: Any,
    function_name: str,
    topic: str,
    environment: str,
    previous: str | None,
) -> dict[str, Any]:
    """Record the token and ask; `previous` is the environment the release is already in."""
    release = parse_release(event)
    execution = parse_execution(event)
    token = event.get("token")
    if not isinstance(token, str) or not token:
        raise InvalidEvent("token is missing; the state machine passes $$.Task.Token")
    record = {
        "release_id": release.id,
        "environment": environment,
        "token": token,
        "state": "waiting",
        "requested_at": int(time.time()),
    }
    # A new gate of the execution replaces the record of the gate before it (answered by now).
    earlier = records.load(s3, bucket, key(execution))
    records.save(s3, bucket, key(execution), record, etag=earlier[1] if earlier else None)
    decision = {
        "action": "approve",
        "release_id": release.id,
        "execution": execution,
        "environment": environment,
    }
    client("sns").publish(
        TopicArn=topic,
        Subject=f"Release {release.id} waits for approval before {environment}",
        Message=json.dumps(
            {
                "release": release.id,
                "outcome": "waiting_for_approval",
                "environment": environment,
                "changed": f"{previous} now serves release {release.id} and passed its tests"
                if previous
                else f"release {release.id} passed its own tests; no environment serves it yet",
                "approve": f"aws lambda invoke --function-name {function_name} "
                f"--cli-binary-format raw-in-base64-out --payload '{json.dumps(decision)}' "
                "/dev/stdout",
                "reject": 'the same with "action": "reject" (and an optional "reason")',
            },
            indent=2,
        ),
    )
    LOGGER.info("approval requested", extra={"execution": execution, "release_id": release.id})
    return {"release_id": release.id, "state": "waiting"}


def decide(s3: Any, bucket: str, event: Any, *, approved: bool) -> dict[str, Any]:
    release_id = require_str(event, "release_id", RELEASE_ID, "the id of the waiting release")
    execution = require_str(event, "execution", EXECUTION_NAME, "the execution that waits")
    loaded = records.load(s3, bucket, key(execution))
    if loaded is None:
        raise InvalidEvent(f"execution {execution} is not waiting for an approval")
    record, etag = loaded
    if record["release_id"] != release_id:
        raise ApprovalMismatch(
            f"execution {execution} waits for release {record['release_id']}, not {release_id}; "
            "an approval names the release it approves"
        )
    gate = record.get("environment")
    if gate is not None and event.get("environment") != gate:
        raise ApprovalMismatch(
            f"execution {execution} waits for an approval before {gate}, not "
            f"{event.get('environment')!r}; an approval names the environment it opens"
        )
    if record["state"] != "waiting":
        raise InvalidEvent(f"release {release_id} was already {record['state']}")
    reason = str(event.get("reason", ""))[:256]
    sfn = client("stepfunctions")
    try:
        if approved:
            sfn.send_task_success(
                taskToken=record["token"], output=json.dumps({"approved": True, "reason": reason})
            )
        else:
            sfn.send_task_failure(
                taskToken=record["token"],
                error="ReleaseRejected",
                cause=reason or f"release {release_id} was rejected",
            )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code not in {"InvalidToken", "TaskDoesNotExist", "TaskTimedOut"}:
            raise
        # The wait already ended (timed out, or the execution stopped): nothing to answer.
        raise InvalidEvent(
            f"execution {execution} no longer waits for an approval of release {release_id} "
            f"({code})"
        ) from error
    record["state"] = "approved" if approved else "rejected"
    # Two people answering at once: the task takes the first answer, and so does the record.
    records.save(s3, bucket, key(execution), record, etag=etag)
    # The token is a credential to answer the task: it is never logged.
    LOGGER.info(
        "approval answered",
        extra={"execution": execution, "release_id": release_id, "state": record["state"]},
    )
    return {"release_id": release_id, "state": record["state"]}

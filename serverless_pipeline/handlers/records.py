"""Deployment records: what an execution changed in an environment, written before the change.

A record lives in the environment's bucket at executions/<execution>/<environment>/<function>.json.
Promote writes it before it touches the function, so rollback knows what to restore even when
promote failed half-way; a function without a record was never touched by that execution.

Every write is conditional (S3 conditional writes): a new record only if none exists
(If-None-Match), a changed one only if it is still the version that was read (If-Match). Two
writers, a handler and its own retry, or promote and a rollback, can never overwrite each other
silently: the second gets `RecordConflict` and reads again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

from botocore.exceptions import ClientError

from .errors import ConfigurationError, ExecutionInProgress, RecordConflict
from .settings import Target

# started: the record is written, nothing changed yet; deploying: a CodeDeploy deployment runs;
# deployed: the alias serves the release; rolled_back: the alias serves previous_version again.
DeploymentState = Literal["started", "deploying", "deployed", "rolled_back"]
STATES = get_args(DeploymentState)


@dataclass
class DeploymentRecord:
    """What one execution did to one function in one environment: written by promote before
    each change, read by promote's status checks and by rollback."""

    environment: str
    function: str
    release_id: str
    previous_version: str
    """The version the alias served before this execution: what rollback restores."""
    previous_release: str | None
    state: DeploymentState
    deadline: int
    """Epoch seconds after which a still-running deployment counts as failed."""
    target_version: str | None = None
    deployment_id: str | None = None
    etag: str | None = field(default=None, compare=False, repr=False)
    """The stored version this record was read as (None: not stored yet); never stored."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["etag"]
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> DeploymentRecord:
        """The record, or ConfigurationError naming what is wrong with the stored one."""
        names = {f.name for f in fields(cls)} - {"etag"}
        required = names - {"target_version", "deployment_id"}
        if not isinstance(data, dict) or not required <= set(data) or set(data) - names:
            raise ConfigurationError(f"{where} is not a deployment record: {str(data)[:200]}")
        if data["state"] not in STATES:
            raise ConfigurationError(f"{where} has state {data['state']!r}; expected {STATES}")
        return cls(**data)


def key(execution: str, environment: str, function: str) -> str:
    return f"executions/{execution}/{environment}/{function}.json"


def single_form_key(execution: str, environment: str) -> str:
    """Where the single form kept its records before several functions existed: an execution
    that started before an upgrade is still finished or rolled back from them."""
    return f"executions/{execution}/{environment}.json"


def load(s3: Any, bucket: str, object_key: str) -> tuple[dict[str, Any], str] | None:
    """(the JSON record at object_key, its ETag), or None when there is none."""
    try:
        stored = s3.get_object(Bucket=bucket, Key=object_key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    record: dict[str, Any] = json.loads(stored["Body"].read())
    return record, str(stored["ETag"])


def save(s3: Any, bucket: str, object_key: str, record: dict[str, Any], *, etag: str | None) -> str:
    """Write the record if it is still the version `etag` names (None: only if there is none
    yet); its new ETag. RecordConflict when another writer came first."""
    condition = {"If-Match": etag} if etag is not None else {"If-None-Match": "*"}
    try:
        stored = _conditional_put(
            s3,
            condition,
            Bucket=bucket,
            Key=object_key,
            Body=json.dumps(record, sort_keys=True).encode(),
            ContentType="application/json",
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in {"PreconditionFailed", "ConditionalRequestConflict"}:
            raise
        raise RecordConflict(
            f"s3://{bucket}/{object_key} changed since it was read (or was created meanwhile): "
            "another writer came first"
        ) from error
    return str(stored["ETag"])


def _conditional_put(s3: Any, headers: dict[str, str], **params: Any) -> Any:
    """PutObject with its condition set as request headers: the SDK in the Lambda runtime may
    predate the IfMatch and IfNoneMatch parameters (botocore added them late in 2024), and S3
    reads the headers whichever SDK sends them."""

    def add_headers(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    s3.meta.events.register("before-sign.s3.PutObject", add_headers)
    try:
        return s3.put_object(**params)
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", add_headers)


def read_deployment(s3: Any, target: Target, execution: str) -> DeploymentRecord | None:
    """The execution's record of the target, or None when it never touched it."""
    bucket, object_key = target.bucket, key(execution, target.environment, target.function)
    loaded = load(s3, bucket, object_key)
    if loaded is None and target.single_form:
        object_key = single_form_key(execution, target.environment)
        loaded = load(s3, bucket, object_key)
        if loaded is not None and isinstance(loaded[0], dict):
            loaded[0].setdefault("function", target.function)
            # Moved to its own key when next written: the single form's key is not rewritten.
            loaded = loaded[0], ""
    if loaded is None:
        return None
    data, etag = loaded
    record = DeploymentRecord.from_json(data, f"s3://{bucket}/{object_key}")
    record.etag = etag or None
    return record


def write_deployment(s3: Any, target: Target, execution: str, record: DeploymentRecord) -> None:
    """Store the record, conditionally on the version it was read as (see the module)."""
    object_key = key(execution, record.environment, record.function)
    record.etag = save(s3, target.bucket, object_key, record.to_json(), etag=record.etag)


# The pipeline's claim: which execution may change environments. One at a time, whatever starts
# them (the QUEUED pipeline, or someone's StartExecution beside it).
CLAIM_KEY = "executions/claim.json"
ENDED_WELL = "SUCCEEDED"
# What `status_of` answers for an execution Step Functions no longer knows.
GONE = "GONE"


# The endings after which an execution's cleanup restores what it touched (the cleanup rule's
# statuses): every terminal status but SUCCEEDED.
ENDED_BADLY = ("ABORTED", "FAILED", "TIMED_OUT")


def claim(
    s3: Any,
    bucket: str,
    execution: str,
    status_of: Callable[[str], str],
    clean_up: Callable[[str, str], None],
) -> None:
    """Take the pipeline for `execution`, or raise ExecutionInProgress naming who holds it.
    A holder that ended well left everything deployed, so its claim is taken over. One that
    ended otherwise and still holds it was never cleaned up: the status change that sends the
    cleanup its way is delivered at best effort. `clean_up(holder, status)` then restores what
    it touched and releases it, before the claim is taken."""
    loaded = load(s3, bucket, CLAIM_KEY)
    holder = _other_holder(loaded, execution)
    if holder is not None:
        status = status_of(holder)
        if status in ENDED_BADLY:
            clean_up(holder, status)
            loaded = load(s3, bucket, CLAIM_KEY)
            if _other_holder(loaded, execution) is not None:
                raise ExecutionInProgress(
                    f"execution {holder} ended {status} and its cleanup did not release the "
                    f"pipeline; {execution} refuses before it changes anything"
                )
        # GONE: Step Functions keeps a closed execution 90 days; its turn is long over.
        elif status not in (ENDED_WELL, GONE):
            raise ExecutionInProgress(
                f"execution {holder} is {status.lower()} and holds the pipeline; {execution} "
                "refuses before it changes anything (start it again after that one ends)"
            )
    try:
        save(
            s3,
            bucket,
            CLAIM_KEY,
            {"execution": execution, "state": "held"},
            etag=None if loaded is None else loaded[1],
        )
    except RecordConflict as conflict:
        raise ExecutionInProgress(
            f"another execution claimed the pipeline at the same moment as {execution}"
        ) from conflict


def _other_holder(loaded: tuple[dict[str, Any], str] | None, execution: str) -> str | None:
    """The execution other than `execution` that holds the pipeline, if one does."""
    if loaded is None or loaded[0].get("state") != "held":
        return None
    holder = loaded[0].get("execution")
    return None if holder in (None, execution) else str(holder)


def holds(s3: Any, bucket: str, execution: str) -> bool:
    """Whether `execution` holds the pipeline; True too when nobody ever claimed it (a
    pipeline from before claims existed: its records alone say what to restore)."""
    loaded = load(s3, bucket, CLAIM_KEY)
    if loaded is None:
        return True
    return loaded[0].get("state") == "held" and loaded[0].get("execution") == execution


def release(s3: Any, bucket: str, execution: str) -> None:
    """Give the pipeline back, if `execution` holds it (a retry that already did is a no-op)."""
    loaded = load(s3, bucket, CLAIM_KEY)
    if loaded is None:
        return
    held, etag = loaded
    if held.get("execution") == execution and held.get("state") == "held":
        save(s3, bucket, CLAIM_KEY, {"execution": execution, "state": "released"}, etag=etag)

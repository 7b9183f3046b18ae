"""Deployment records: what an execution changed in an environment, written before the change.

A record lives in the environment's bucket at executions/<execution>/<environment>.json. Promote
writes it before it touches the function, so rollback knows what to restore even when promote
failed half-way; an environment without a record was never touched by that execution.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError


def key(execution: str, environment: str) -> str:
    return f"executions/{execution}/{environment}.json"


def load(s3: Any, bucket: str, object_key: str) -> dict[str, Any] | None:
    """The JSON record at object_key, or None when there is none."""
    try:
        body = s3.get_object(Bucket=bucket, Key=object_key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    record: dict[str, Any] = json.loads(body)
    return record


def save(s3: Any, bucket: str, object_key: str, record: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=object_key,
        Body=json.dumps(record, sort_keys=True).encode(),
        ContentType="application/json",
    )


def read(s3: Any, bucket: str, execution: str, environment: str) -> dict[str, Any] | None:
    return load(s3, bucket, key(execution, environment))


def write(s3: Any, bucket: str, execution: str, environment: str, record: dict[str, Any]) -> None:
    save(s3, bucket, key(execution, environment), record)

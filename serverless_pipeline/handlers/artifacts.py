"""Fetching a release's bytes from S3, verified against the checksum the build recorded."""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import ClientError

from .archive import MAX_UNZIPPED_BYTES
from .errors import ArtifactNotFound, ArtifactTooLarge, ChecksumMismatch, InvalidEvent
from .events import Release


def fetch(s3: Any, release: Release, artifact_bucket: str) -> bytes:
    """The artifact's bytes, refusing another bucket, a missing object, an oversized one or one
    whose SHA-256 differs from the release's."""
    if release.bucket != artifact_bucket:
        raise InvalidEvent(
            f"release.bucket is {release.bucket!r}; releases are read only from the pipeline's "
            f"artifact bucket {artifact_bucket!r}"
        )
    location = {"Bucket": release.bucket, "Key": release.key}
    if release.version_id:
        location["VersionId"] = release.version_id
    try:
        head = s3.head_object(**location)
        if head["ContentLength"] > MAX_UNZIPPED_BYTES:
            raise ArtifactTooLarge(
                f"s3://{release.bucket}/{release.key} is {head['ContentLength']} bytes; "
                f"at most {MAX_UNZIPPED_BYTES}"
            )
        data: bytes = s3.get_object(**location)["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in {"404", "NoSuchKey", "NoSuchVersion", "NoSuchBucket", "403", "AccessDenied"}:
            raise ArtifactNotFound(
                f"s3://{release.bucket}/{release.key} cannot be read ({code})"
            ) from error
        raise
    digest = hashlib.sha256(data).hexdigest()
    if digest != release.sha256:
        raise ChecksumMismatch(
            f"s3://{release.bucket}/{release.key} has SHA-256 {digest}, "
            f"the release says {release.sha256}"
        )
    return data

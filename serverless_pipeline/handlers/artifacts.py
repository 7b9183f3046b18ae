"""Fetching a release's bytes (its zip, its layers) from S3, verified against the checksums the
build recorded."""

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
    return _verified(s3, release.bucket, release.key, release.version_id, release.sha256)


def fetch_layer(s3: Any, release: Release, name: str) -> bytes:
    """The bytes of the release's layer `name`, from the bucket of the release's artifact (which
    fetch has checked), verified like the artifact."""
    if name not in release.layers:
        built = ", ".join(sorted(release.layers)) or "none"
        raise ArtifactNotFound(
            f"release {release.id} has no layer {name!r} (it has {built}): the build makes the "
            "layers that BuildSettings.layers names, and functions may use only those"
        )
    layer = release.layers[name]
    return _verified(s3, release.bucket, layer.key, layer.version_id, layer.sha256)


def _verified(s3: Any, bucket: str, key: str, version_id: str | None, sha256: str) -> bytes:
    location = {"Bucket": bucket, "Key": key}
    if version_id:
        location["VersionId"] = version_id
    try:
        head = s3.head_object(**location)
        if head["ContentLength"] > MAX_UNZIPPED_BYTES:
            raise ArtifactTooLarge(
                f"s3://{bucket}/{key} is {head['ContentLength']} bytes; "
                f"at most {MAX_UNZIPPED_BYTES}"
            )
        data: bytes = s3.get_object(**location)["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in {"404", "NoSuchKey", "NoSuchVersion", "NoSuchBucket", "403", "AccessDenied"}:
            raise ArtifactNotFound(f"s3://{bucket}/{key} cannot be read ({code})") from error
        raise
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ChecksumMismatch(
            f"s3://{bucket}/{key} has SHA-256 {digest}, the release says {sha256}"
        )
    return data

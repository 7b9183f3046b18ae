"""Typed views of the events the state machine sends, parsed before anything is touched.

Every field is checked for presence, type and form, and the error names the field, the bad value
and what is accepted, so a malformed event fails at invocation with nothing changed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidEvent

RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
EXECUTION_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[\w-]+:[\w-]+")
# A release image, pinned by digest in a private ECR repository:
# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>@sha256:<digest>.
IMAGE_URI = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]{1,255}"
    r"@sha256:[0-9a-f]{64}$"
)
# Where a release's artifact lives, in the artifact bucket (put there by the build) and in each
# environment's bucket (put there by promote): one scheme for the build, handlers and rehearsal.
RELEASE_KEY = "releases/{release_id}/app.zip"
# A layer the build made from the repository (BuildSettings.layers), beside the release's zip.
LAYER_KEY = "releases/{release_id}/layers/{layer}.zip"
# The name of a layer built from the release: what functions' `layers` say instead of an ARN.
RELEASE_LAYER = re.compile(r"[A-Za-z0-9_-]{1,64}")


def release_key(release_id: str) -> str:
    return RELEASE_KEY.format(release_id=release_id)


def layer_key(release_id: str, layer: str) -> str:
    return LAYER_KEY.format(release_id=release_id, layer=layer)


def _field(event: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in event:
        raise InvalidEvent(f"{where}{key} is missing")
    return event[key]


def require_mapping(value: Any, where: str) -> Mapping[str, Any]:
    """Fail unless value is a JSON object; `where` names it in the message."""
    if not isinstance(value, Mapping):
        raise InvalidEvent(
            f"{where} must be a JSON object, got {type(value).__name__} {value!r:.80}"
        )
    return value


def require_str(
    event: Mapping[str, Any], key: str, pattern: re.Pattern[str], accepted: str, where: str = ""
) -> str:
    """The string at `key`, checked against `pattern`; `accepted` describes valid values."""
    value = _field(event, key, where)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidEvent(f"{where}{key} is {value!r:.100}; expected {accepted}")
    return value


def require_one_of(event: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    """The value at `key`, which must be one of `choices`."""
    value = event.get(key)
    if not isinstance(value, str) or value not in choices:
        raise InvalidEvent(f"{key} is {value!r:.80}; expected one of {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class LayerArtifact:
    """Where the build put the zip of one layer built from the release, and its checksum."""

    key: str
    sha256: str
    version_id: str | None = None


@dataclass(frozen=True)
class Release:
    """Where the build put one release and what its bytes hash to."""

    id: str
    bucket: str
    key: str
    sha256: str
    version_id: str | None = None
    image: str | None = None
    """The release's container image, <repository URL>@sha256:<digest>, which the build pushed
    when some function is an image; None: no image."""
    layers: Mapping[str, LayerArtifact] = field(default_factory=dict)
    """The layers the build made from the repository (BuildSettings.layers), by name."""

    @property
    def code_sha256(self) -> str:
        """The artifact's hash in Lambda's CodeSha256 form (base64 of the digest)."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()

    def code_of(self, package_type: str) -> str:
        """What Lambda reports as the CodeSha256 of a function of this release: the zip's, or
        for an image function the hex of the image's digest."""
        if package_type == "Image" and self.image is not None:
            return self.image.rsplit("@sha256:", 1)[1]
        return self.code_sha256


def parse_release(event: Mapping[str, Any]) -> Release:
    """The `release` object of an event; its key must live under releases/<id>/."""
    release = require_mapping(_field(event, "release", ""), "release")
    release_id = require_str(
        release, "id", RELEASE_ID, "1-128 letters, digits, '.', '_' or '-'", "release."
    )
    bucket = require_str(release, "bucket", BUCKET_NAME, "an S3 bucket name", "release.")
    key = _field(release, "key", "release.")
    prefix = release_key(release_id).rsplit("/", 1)[0] + "/"
    if not isinstance(key, str) or not key.startswith(prefix) or ".." in key or len(key) > 1024:
        raise InvalidEvent(
            f"release.key is {key!r:.100}; expected an object key under {prefix!r} "
            "(the release id must match the artifact)"
        )
    sha256 = require_str(release, "sha256", SHA256_HEX, "64 lowercase hex digits", "release.")
    version_id = _version_id(release, "release.")
    image = release.get("image")
    if image is not None:
        uri = require_mapping(image, "release.image").get("uri")
        if not isinstance(uri, str) or not IMAGE_URI.fullmatch(uri):
            raise InvalidEvent(
                f"release.image.uri is {uri!r:.200}; expected an image pinned by digest in a "
                "private ECR repository, <account>.dkr.ecr.<region>.amazonaws.com/<repository>"
                "@sha256:<64 hex digits>"
            )
        image = uri
    return Release(release_id, bucket, key, sha256, version_id, image, _layers(release, release_id))


def _layers(release: Mapping[str, Any], release_id: str) -> dict[str, LayerArtifact]:
    """release.layers: name -> {key, sha256, version_id}, each key the build's for that name,
    so that a release cannot hand promote another release's (or another layer's) bytes."""
    raw = require_mapping(release.get("layers", {}), "release.layers")
    layers = {}
    for name, value in raw.items():
        where = f"release.layers.{name}."
        if not isinstance(name, str) or not RELEASE_LAYER.fullmatch(name):
            raise InvalidEvent(
                f"release.layers names {name!r:.80}; expected 1-64 letters, digits, '_' or '-'"
            )
        artifact = require_mapping(value, where.rstrip("."))
        key, expected = _field(artifact, "key", where), layer_key(release_id, name)
        if key != expected:
            raise InvalidEvent(f"{where}key is {key!r:.100}; expected {expected!r}")
        sha256 = require_str(artifact, "sha256", SHA256_HEX, "64 lowercase hex digits", where)
        layers[name] = LayerArtifact(key, sha256, _version_id(artifact, where))
    return layers


def _version_id(artifact: Mapping[str, Any], where: str) -> str | None:
    """An S3 object's version id, where the bucket is versioned; None where it is not."""
    version_id = artifact.get("version_id")
    if version_id is not None and (not isinstance(version_id, str) or not version_id):
        raise InvalidEvent(f"{where}version_id is {version_id!r:.80}; expected a non-empty string")
    return version_id


def parse_execution(event: Mapping[str, Any]) -> str:
    """The Step Functions execution name, which keys this execution's deployment records."""
    return require_str(
        event, "execution", EXECUTION_NAME, "a Step Functions execution name (1-80 of A-Za-z0-9_-)"
    )

"""Layers built from the release (BuildSettings.layers), published where the functions run.

A function's `layers` lists layer version ARNs and the names of layers the build made from the
repository. Lambda takes only ARNs, and "the layer and the function must be in the same AWS
Region" (Lambda developer guide, "Adding layers to functions"), so promote publishes the release's
layers in each environment's account and region, and run_tests in the pipeline's for the
candidate. A layer version is immutable and is found again by the checksum in its description: the
same bytes publish once, so a retried promote, or a release whose layer did not change, reuses the
version instead of piling up new ones. A function version keeps the layers it was published with,
so a rollback to the previous version restores its layers too.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import archive
from .errors import ChecksumMismatch
from .events import LayerArtifact, Release

Content = dict[str, str]
"""PublishLayerVersion's Content: where Lambda reads the layer's zip (S3Bucket, S3Key, and
S3ObjectVersion in a versioned bucket)."""


def is_release_layer(entry: str) -> bool:
    """A functions' `layers` entry that names a layer of the release, not a version's ARN."""
    return not entry.startswith("arn:")


def names(layers: Iterable[str]) -> set[str]:
    """The release layers among a function's (or several functions') layers."""
    return {entry for entry in layers if is_release_layer(entry)}


def layer_name(application: str, layer: str) -> str:
    """The Lambda layer a release layer is published as: one per application and layer, so two
    pipelines in one account never share (or delete) each other's versions."""
    return f"{application}-{layer}"


def resolve(layers: Sequence[str], published: Mapping[str, str]) -> list[str]:
    """A function's layers as Lambda takes them: the ARNs as given, each release layer's name
    replaced by its published version's ARN, in the order given (Lambda's merge order)."""
    return [published[entry] if is_release_layer(entry) else entry for entry in layers]


def check(data: bytes, name: str, architectures: Iterable[str]) -> int:
    """A release layer's zip is sound (the artifact's integrity limits) and holds no native code
    built for another architecture than the functions' that use it; its number of files."""
    layer = archive.open_archive(data, f"layer {name}")
    archive.check_architectures(layer, set(architectures))
    return len(layer.infolist())


def publish(
    lam: Any,
    application: str,
    release: Release,
    wanted: Iterable[str],
    store: Callable[[str, LayerArtifact], Content],
) -> dict[str, str]:
    """name -> the ARN of a layer version holding exactly the release's bytes of that layer, in
    the account and region of `lam`. `store` puts a layer where Lambda can read it and says
    where; it is called only for a layer that has no such version yet."""
    arns = {}
    for name in sorted(wanted):
        artifact = release.layers[name]
        lambda_name = layer_name(application, name)
        description = f"sha256 {artifact.sha256}"
        found = _version_described(lam, lambda_name, description)
        if found is None:
            published = lam.publish_layer_version(
                LayerName=lambda_name,
                Description=description,
                Content=store(name, artifact),
            )
            found = published["LayerVersionArn"]
            # What Lambda read must be the build's bytes: a store that handed over anything
            # else leaves no version behind to be found by the checksum later.
            expected = base64.b64encode(bytes.fromhex(artifact.sha256)).decode()
            if published["Content"]["CodeSha256"] != expected:
                lam.delete_layer_version(LayerName=lambda_name, VersionNumber=published["Version"])
                raise ChecksumMismatch(
                    f"layer {lambda_name} version {published['Version']} holds code with "
                    f"CodeSha256 {published['Content']['CodeSha256']}; release {release.id}'s "
                    f"layer {name} has {expected}"
                )
        arns[name] = found
    return arns


def _version_described(lam: Any, lambda_name: str, description: str) -> str | None:
    """The ARN of the layer's newest version with this description, if any."""
    for page in lam.get_paginator("list_layer_versions").paginate(LayerName=lambda_name):
        for version in page["LayerVersions"]:
            if version.get("Description") == description:
                return str(version["LayerVersionArn"])
    return None

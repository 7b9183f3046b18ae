"""ValidateCode: the release artifact is sound before any code of it runs anywhere: every
function's entry point is in it for the function's runtime, its native code is built for the
functions' architectures, every layer the functions take from the release is in it and sound,
and every test case calls one of the application's functions."""

from __future__ import annotations

from typing import Any

from . import archive, artifacts, images, release_layers, settings
from .clients import client
from .events import parse_release, require_mapping


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings.load()
    release = parse_release(require_mapping(event, "event"))
    data = artifacts.fetch(client("s3"), release, config.artifact_bucket)
    report = archive.inspect(data, config.functions, config.test_manifest)
    layers = {
        name: release_layers.check(
            artifacts.fetch_layer(client("s3"), release, name),
            name,
            {f.architecture for f in config.functions if name in f.layers},
        )
        for name in sorted(release_layers.names(a for f in config.functions for a in f.layers))
    }
    return {
        "release_id": release.id,
        "bytes": len(data),
        "entries": report.entries,
        "unzipped_bytes": report.unzipped_bytes,
        "python_files": report.python_files,
        "native_files": report.native_files,
        "test_cases": report.test_cases,
        # Only where functions take layers from the release: other reports stay as they were.
        **({"layer_files": layers} if layers else {}),
        **images.check(config, release),
    }

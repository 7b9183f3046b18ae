"""ValidateCode: the release artifact is sound before any code of it runs anywhere: every
function's entry point is in it for the function's runtime, its native code is built for the
functions' architectures, and every test case calls one of the application's functions."""

from __future__ import annotations

from typing import Any

from . import archive, artifacts, images, settings
from .clients import client
from .events import parse_release, require_mapping


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings.load()
    release = parse_release(require_mapping(event, "event"))
    data = artifacts.fetch(client("s3"), release, config.artifact_bucket)
    report = archive.inspect(data, config.functions, config.test_manifest)
    return {
        "release_id": release.id,
        "bytes": len(data),
        "entries": report.entries,
        "unzipped_bytes": report.unzipped_bytes,
        "python_files": report.python_files,
        "native_files": report.native_files,
        "test_cases": report.test_cases,
        **images.check(config, release),
    }

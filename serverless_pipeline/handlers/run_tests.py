"""RunTests and RunTestsInStaging: the release's own test cases against its code.

Stage "candidate" runs the code from the artifact, before any environment is touched. Stage
"staging" invokes the staging function through its live alias, after checking that the alias
really serves this release, so a pass proves the release works with staging's configuration.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import boto3

from . import archive, artifacts, settings
from .case_runner import judge, run_candidate
from .errors import EnvironmentNotOnRelease, TestCasesFailed
from .events import Release, parse_release, require_mapping, require_one_of

LOGGER = logging.getLogger(__name__)


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings.load()
    event = require_mapping(event, "event")
    stage = require_one_of(event, "stage", archive.DEFAULT_STAGES)
    release = parse_release(event)
    data = artifacts.fetch(boto3.client("s3"), release, config.artifact_bucket)
    bundle = archive.open_archive(data)
    cases = [c for c in archive.load_manifest(bundle, config.test_manifest) if stage in c.stages]
    if stage == "candidate":
        with tempfile.TemporaryDirectory() as root:
            archive.extract(bundle, Path(root))
            outcomes = [
                run_candidate(
                    Path(root), config.app_handler, case, config.test_case_timeout_seconds
                )
                for case in cases
            ]
    else:
        outcomes = _run_in_staging(release, config, cases)
    results = [
        {"name": case.name, "passed": (reason := judge(case, outcome)) is None, "reason": reason}
        for case, outcome in zip(cases, outcomes, strict=True)
    ]
    failed = [r for r in results if not r["passed"]]
    LOGGER.info(
        "test results", extra={"stage": stage, "release_id": release.id, "results": results}
    )
    if failed:
        summary = "; ".join(f"{r['name']}: {r['reason']}" for r in failed)
        raise TestCasesFailed(f"{len(failed)} of {len(results)} {stage} cases failed: {summary}")
    return {"release_id": release.id, "stage": stage, "passed": len(results), "cases": results}


def _run_in_staging(
    release: Release, config: settings.Settings, cases: list[archive.TestCase]
) -> list[dict[str, Any]]:
    staging = config.environment("staging")
    client = boto3.client("lambda")
    alias = client.get_alias(FunctionName=staging.function_name, Name=staging.alias)
    version = alias["FunctionVersion"]
    # Compared by code, not by version description: a release whose code equals the live one
    # publishes no new version, and is still the code under test.
    code = client.get_function_configuration(FunctionName=staging.function_name, Qualifier=version)[
        "CodeSha256"
    ]
    shifting = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights")
    if code != release.code_sha256 or shifting:
        raise EnvironmentNotOnRelease(
            f"{staging.function_name}:{staging.alias} serves version {version}, whose code is "
            f"not release {release.id}'s"
            + (f", and still shifts traffic to {shifting}" if shifting else "")
        )
    return [invoke_case(client, staging.function_name, staging.alias, case) for case in cases]


def invoke_case(
    client: Any, function_name: str, qualifier: str, case: archive.TestCase
) -> dict[str, Any]:
    """Invoke one case through an alias or version; the outcome as Lambda reported it."""
    response = client.invoke(
        FunctionName=function_name, Qualifier=qualifier, Payload=json.dumps(case.event).encode()
    )
    payload = response["Payload"].read()
    try:
        body = json.loads(payload) if payload else None
    except json.JSONDecodeError:
        body = payload.decode(errors="replace")
    if response.get("FunctionError"):
        if isinstance(body, dict):
            return {"errorType": body.get("errorType"), "errorMessage": body.get("errorMessage")}
        return {"errorType": "Unhandled", "errorMessage": str(body)}
    return {"result": body}

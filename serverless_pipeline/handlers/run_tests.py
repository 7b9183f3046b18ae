"""RunTests and RunTestsIn<Env>: the release's own test cases against its code.

Stage "candidate" runs the code from the artifact before any environment is touched, in the
pipeline's candidate function: a function of its own whose role can only write its logs, so
release code that is not yet trusted never runs next to this handler's credentials; each case
runs with the runtime, architecture, layers, handler and memory of the function it names. An
image function's cases run the same way in the image candidate, on the release's image by digest
with the function's command (a zip function cannot switch to an image).
Stage "staging" invokes each case's function through its live alias in the event's environment
(staging by default), after checking that every function there really serves this release, so a
pass proves the release works with that environment's configuration.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from . import archive, artifacts, images, release_layers, settings
from .case_runner import invoke_case, invoke_client, judge
from .clients import client, environment_session, in_environment
from .errors import ConfigurationError, EnvironmentNotOnRelease, TestCasesFailed
from .events import (
    LayerArtifact,
    Release,
    parse_execution,
    parse_release,
    require_mapping,
    require_one_of,
)

LOGGER = logging.getLogger(__name__)


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings.load()
    event = require_mapping(event, "event")
    stage = require_one_of(event, "stage", archive.DEFAULT_STAGES)
    release = parse_release(event)
    data = artifacts.fetch(client("s3"), release, config.artifact_bucket)
    bundle = archive.open_archive(data)
    cases = [c for c in archive.load_manifest(bundle, config.test_manifest) if stage in c.stages]
    default = config.functions[0].name
    functions = [config.function(case.function or default) for case in cases]
    if stage == "candidate":
        outcomes = _run_candidates(config, release, cases, functions)
    else:
        where = event.get("environment", "staging")
        environment = config.environment(
            require_one_of({"environment": where}, "environment", config.environment_names)
        )
        # The execution names the session of the deployment role an environment elsewhere is
        # reached through; the pipeline's own environments need none.
        execution = parse_execution(event) if environment.role else ""
        outcomes = _run_in_environment(release, environment, execution, cases, functions)
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


def _code_of(client: Any, function_name: str, version: str) -> str:
    configuration = client.get_function_configuration(FunctionName=function_name, Qualifier=version)
    code: str = configuration["CodeSha256"]
    return code


def _run_candidates(
    config: settings.Settings,
    release: Release,
    cases: list[archive.TestCase],
    functions: list[settings.Function],
) -> list[dict[str, Any]]:
    """The zip functions' cases on the candidate function, the image functions' on the image
    candidate, in the cases' order. Layers built from the release are published in the
    pipeline's account first, from the artifact bucket, as promote publishes them elsewhere."""

    def store(name: str, layer: LayerArtifact) -> release_layers.Content:
        content = {"S3Bucket": release.bucket, "S3Key": layer.key}
        if layer.version_id:
            content["S3ObjectVersion"] = layer.version_id
        return content

    wanted = release_layers.names(layer for f in functions for layer in f.layers)
    layers = release_layers.publish(client("lambda"), config.application, release, wanted, store)
    outcomes: dict[int, dict[str, Any]] = {}
    for image in (False, True):
        indexes = [
            i for i, f in enumerate(functions) if (f.package_type == images.IMAGE) == image
        ]
        if not indexes:
            continue
        candidate = config.image_candidate_function if image else config.candidate_function
        if not candidate:
            raise ConfigurationError(
                "environment variable IMAGE_CANDIDATE_FUNCTION is not set, but function(s) "
                f"{', '.join(sorted({functions[i].name for i in indexes}))} run an image"
            )
        code: dict[str, str] = {"S3Bucket": release.bucket, "S3Key": release.key}
        if image:
            code = {"ImageUri": images.image_uri(config, release)}
        elif release.version_id:
            code["S3ObjectVersion"] = release.version_id
        ran = _run_candidate(
            release,
            candidate,
            code,
            [cases[i] for i in indexes],
            [functions[i] for i in indexes],
            layers,
        )
        outcomes.update(zip(indexes, ran, strict=True))
    return [outcomes[index] for index in range(len(cases))]


def _configuration(function: settings.Function, layers: dict[str, str]) -> dict[str, Any]:
    """What the candidate takes of a case's function beside its code: an image function's
    command is its handler (ImageConfig), the image brings runtime and layers. `layers`: the
    versions of the layers built from the release."""
    if function.package_type == images.IMAGE:
        return {"ImageConfig": {"Command": [function.handler]}, "MemorySize": function.memory_mb}
    return {
        "Runtime": function.runtime,
        "Handler": function.handler,
        "MemorySize": function.memory_mb,
        "Layers": release_layers.resolve(function.layers, layers),
    }


def _run_candidate(
    release: Release,
    function_name: str,
    code: dict[str, str],
    cases: list[archive.TestCase],
    functions: list[settings.Function],
    layers: dict[str, str],
) -> list[dict[str, Any]]:
    """Each case invoked on a version of the candidate function that holds exactly the release's
    `code` (its zip, or its image by digest), the runtime, architecture, layers, handler and
    memory of the case's function, and the case's environment; the versions are deleted once
    their cases ran."""
    lam, invoker = client("lambda"), invoke_client()
    waiter = lam.get_waiter("function_updated_v2")
    # Cases of one function that share an environment share a version: usually one version
    # per function and release. Functions of one architecture run one after another: the
    # architecture comes with the code (UpdateFunctionCode), the rest with the configuration.
    groups: dict[tuple[settings.Function, str], list[int]] = {}
    for index, (case, function) in sorted(
        enumerate(zip(cases, functions, strict=True)), key=lambda item: item[1][1].architecture
    ):
        variables = json.dumps(case.environment, sort_keys=True)
        groups.setdefault((function, variables), []).append(index)
    outcomes: dict[int, dict[str, Any]] = {}
    architecture = None
    for (function, variables), indexes in groups.items():
        if function.architecture != architecture:
            architecture = function.architecture
            lam.update_function_code(
                FunctionName=function_name, Architectures=[architecture], **code
            )
            waiter.wait(FunctionName=function_name)
        # A description of its own makes every publish a new version: Lambda returns the
        # latest version instead when code and configuration are unchanged since it.
        lam.update_function_configuration(
            FunctionName=function_name,
            **_configuration(function, layers),
            Environment={"Variables": json.loads(variables)},
            Description=f"candidate {release.id} {uuid.uuid4()}",
        )
        waiter.wait(FunctionName=function_name)
        # CodeSha256 makes Lambda refuse to publish anything but the release's exact bytes.
        version = lam.publish_version(
            FunctionName=function_name,
            CodeSha256=release.code_of(function.package_type),
            Description=f"candidate {release.id}",
        )["Version"]
        try:
            for index in indexes:
                outcomes[index] = invoke_case(invoker, function_name, version, cases[index])
        finally:
            lam.delete_function(FunctionName=function_name, Qualifier=version)
    return [outcomes[index] for index in range(len(cases))]


def _run_in_environment(
    release: Release,
    environment: settings.Environment,
    execution: str,
    cases: list[archive.TestCase],
    functions: list[settings.Function],
) -> list[dict[str, Any]]:
    lam = in_environment("lambda", environment, execution)
    # Every function of the environment, not only those the cases call: the environment must
    # be wholly on the release before the release moves on.
    for target in environment.targets:
        alias = lam.get_alias(FunctionName=target.function_name, Name=target.alias)
        version = alias["FunctionVersion"]
        # Compared by code, not by version description: a release whose code equals the live
        # one publishes no new version, and is still the code under test.
        code = _code_of(lam, target.function_name, version)
        shifting = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights")
        if code != release.code_of(target.package_type) or shifting:
            raise EnvironmentNotOnRelease(
                f"{target.function_name}:{target.alias} serves version {version}, whose code is "
                f"not release {release.id}'s"
                + (f", and still shifts traffic to {shifting}" if shifting else "")
            )
    invoker = invoke_client(session=environment_session(environment, execution))
    return [
        invoke_case(invoker, target.function_name, target.alias, case)
        for case, function in zip(cases, functions, strict=True)
        for target in [environment.target(function.name)]
    ]

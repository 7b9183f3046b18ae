"""Image functions against moto: moto's ECR holds the images (pushed as manifests with
put_image) and its Lambda creates and updates image functions from them by digest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from serverless_pipeline.handlers import clients, promote, rollback, run_tests, validate
from serverless_pipeline.handlers.errors import ArtifactNotFound, InvalidEvent, VulnerableImage
from serverless_pipeline.handlers.events import parse_release
from tests.handlers.conftest import (
    BUCKETS,
    CANDIDATE_FUNCTION,
    REGION,
    Account,
    app_files,
    application,
    build_zip,
    open_account,
)

ACCOUNT = "123456789012"
REPOSITORY = "app-images"
URL = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}"
IMAGE_CANDIDATE = "app-candidate-image"
FUNCTIONS: dict[str, str | dict[str, str]] = {
    "api": "app.handler",
    "render": {"handler": "render.handler", "package_type": "Image"},
}
MANIFEST = {
    "cases": [
        {"name": "api greets", "event": {"name": "ada"}, "expected": {"greeting": "hello ada"}},
        {
            "name": "render draws",
            "function": "render",
            "event": {"shape": "circle"},
            "expected": {"drawn": "circle"},
            "stages": ["candidate"],
        },
    ]
}


def push(ecr: Any, tag: str) -> str:
    """An image whose manifest moto accepts (its digest comes from the layers' digests, Lambda
    reads the config's size); the image's digest."""
    layer = "sha256:" + hashlib.sha256(tag.encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7},
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 7,
                "digest": layer,
            }
        ],
    }
    image = ecr.put_image(
        repositoryName=REPOSITORY, imageManifest=json.dumps(manifest), imageTag=tag
    )
    digest: str = image["image"]["imageId"]["imageDigest"]
    return digest


@pytest.fixture
def image_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Account, Any, dict[str, str]]]:
    """The account of conftest with an api zip function and a render image function in both
    environments, the repository with the bootstrap image and the r1 image the render functions
    serve, and the image candidate; (account, ecr, tag -> digest)."""
    # moto checks an ImageUri against its ECR only when told to.
    monkeypatch.setenv("MOTO_LAMBDA_STUB_ECR", "false")
    with open_account(monkeypatch, {"api": "app.handler"}) as account:
        monkeypatch.setenv("APPLICATION", application(FUNCTIONS))
        monkeypatch.setenv("IMAGE_REPOSITORY", URL)
        monkeypatch.setenv("IMAGE_CANDIDATE_FUNCTION", IMAGE_CANDIDATE)
        ecr = boto3.client("ecr", region_name=REGION)
        ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")
        digests = {tag: push(ecr, tag) for tag in ("bootstrap", "r1", "r2")}
        role = boto3.client("iam", region_name=REGION).get_role(RoleName="app")["Role"]["Arn"]
        account.lam.create_function(
            FunctionName=IMAGE_CANDIDATE,
            Role=role,
            PackageType="Image",
            Code={"ImageUri": f"{URL}:bootstrap"},
            ImageConfig={"Command": ["render.handler"]},
        )
        for environment in BUCKETS:
            name = account.function_name(environment, "render")
            account.lam.create_function(
                FunctionName=name,
                Role=role,
                PackageType="Image",
                Code={"ImageUri": f"{URL}@{digests['r1']}"},
                ImageConfig={"Command": ["render.handler"]},
                Publish=True,
                Description="release r1",
            )
            account.lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
            account.codedeploy.create_deployment_group(
                applicationName="app",
                deploymentGroupName=name,
                serviceRoleArn=role,
                deploymentStyle={
                    "deploymentType": "BLUE_GREEN",
                    "deploymentOption": "WITH_TRAFFIC_CONTROL",
                },
            )
        yield account, ecr, digests


def release(account: Account, release_id: str, digest: str) -> dict[str, Any]:
    uploaded: dict[str, Any] = account.upload(release_id, build_zip(app_files(manifest=MANIFEST)))
    return {**uploaded, "image": {"uri": f"{URL}@{digest}"}}


def live_image(account: Account, environment: str) -> str:
    """The image digest the live alias's version of the render function runs."""
    name = account.function_name(environment, "render")
    version = account.live_version(environment, "render")
    code = account.lam.get_function(FunctionName=name, Qualifier=version)
    return str(code["Configuration"]["CodeSha256"])


def deploy(event_release: dict[str, Any], environment: str) -> dict[str, Any]:
    event = {
        "action": "start",
        "environment": environment,
        "release": event_release,
        "execution": "e1",
    }
    promote.handler(event, None)
    report: dict[str, Any] = promote.handler({**event, "action": "status"}, None)
    return report


def test_promote_deploys_the_image_by_digest_and_rollback_restores_the_old_digest(
    image_account: tuple[Account, Any, dict[str, str]],
) -> None:
    account, _, digests = image_account
    old, new = digests["r1"].removeprefix("sha256:"), digests["r2"].removeprefix("sha256:")
    assert live_image(account, "staging") == old
    report = deploy(release(account, "r2", digests["r2"]), "staging")
    assert report["status"] == "Succeeded"
    # The new version runs exactly the pushed image: Lambda reports its digest as CodeSha256,
    # and the version is pinned to the digest, not to a tag that could move.
    assert live_image(account, "staging") == new
    name = account.function_name("staging", "render")
    version = account.live_version("staging", "render")
    code = account.lam.get_function(FunctionName=name, Qualifier=version)["Code"]
    assert code["ImageUri"] == f"{URL}@{digests['r2']}"
    # The zip function of the same release took the zip, as before.
    assert account.live_version("staging", "api") == "2"
    rollback.handler({"release": release(account, "r2", digests["r2"]), "execution": "e1"}, None)
    # The alias went back to the version published for r1, which pins r1's image.
    assert account.live_version("staging", "render") == "1"
    assert live_image(account, "staging") == old


def test_promote_refuses_a_release_without_its_image_and_changes_nothing(
    image_account: tuple[Account, Any, dict[str, str]],
) -> None:
    account, _, _ = image_account
    without = account.upload("r2", build_zip(app_files(manifest=MANIFEST)))
    with pytest.raises(InvalidEvent, match="release r2 has no image .* render run a container"):
        deploy(without, "staging")
    assert account.live_version("staging", "api") == "1"
    assert account.live_version("staging", "render") == "1"


def test_an_image_of_another_repository_is_refused(
    image_account: tuple[Account, Any, dict[str, str]],
) -> None:
    account, _, digests = image_account
    foreign = release(account, "r2", digests["r2"])
    foreign["image"] = {"uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/other@{digests['r2']}"}
    with pytest.raises(InvalidEvent, match="expected an image in the pipeline's repository"):
        validate.handler({"release": foreign}, None)


def test_validate_finds_the_image_or_names_the_missing_digest(
    image_account: tuple[Account, Any, dict[str, str]],
) -> None:
    account, _, digests = image_account
    report = validate.handler({"release": release(account, "r2", digests["r2"])}, None)
    # No scan has run in moto: not a failure, and reported as such.
    assert report["image"] == {"uri": f"{URL}@{digests['r2']}", "scan": "NOT_SCANNED"}
    missing = "sha256:" + "0" * 64
    with pytest.raises(ArtifactNotFound, match=f"image {URL}@{missing} of release r3 is not in"):
        validate.handler({"release": release(account, "r3", missing)}, None)


def test_validate_fails_an_image_whose_scan_found_critical_findings(
    image_account: tuple[Account, Any, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    account, _, digests = image_account
    findings = {
        "imageScanStatus": {"status": "COMPLETE"},
        "imageScanFindings": {"findingSeverityCounts": {"CRITICAL": 2, "HIGH": 1}},
    }
    in_progress = {"imageScanStatus": {"status": "IN_PROGRESS"}}
    answers = iter([findings, in_progress])
    real = clients.client

    def client(service: str) -> Any:
        made = real(service)
        if service == "ecr":
            monkeypatch.setattr(made, "describe_image_scan_findings", lambda **_: next(answers))
        return made

    monkeypatch.setattr("serverless_pipeline.handlers.images.client", client)
    with pytest.raises(VulnerableImage, match="has 2 CRITICAL finding"):
        validate.handler({"release": release(account, "r2", digests["r2"])}, None)
    # A scan still running does not hold the release back.
    report = validate.handler({"release": release(account, "r2", digests["r2"])}, None)
    assert report["image"]["scan"] == "IN_PROGRESS"


def test_the_candidate_stage_runs_the_image_cases_on_the_image_candidate(
    image_account: tuple[Account, Any, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    account, _, digests = image_account
    ran: list[tuple[str, str, str, str]] = []

    def invoke_case(invoker: Any, function: str, version: str, case: Any) -> dict[str, Any]:
        code = account.lam.get_function(FunctionName=function, Qualifier=version)
        ran.append(
            (
                function,
                case.name,
                code["Configuration"]["CodeSha256"],
                code["Code"].get("ImageUri", ""),
            )
        )
        result = {"drawn": "circle"} if case.function == "render" else {"greeting": "hello ada"}
        return {"result": result}

    monkeypatch.setattr(run_tests, "invoke_case", invoke_case)
    event = {"stage": "candidate", "release": release(account, "r2", digests["r2"])}
    report = run_tests.handler(event, None)
    assert report["passed"] == 2
    by_case = {name: (function, sha, uri) for function, name, sha, uri in ran}
    assert by_case["render draws"] == (
        IMAGE_CANDIDATE,
        digests["r2"].removeprefix("sha256:"),
        f"{URL}@{digests['r2']}",
    )
    assert by_case["api greets"][0] == CANDIDATE_FUNCTION
    # Its versions are gone once its cases ran.
    versions = account.lam.list_versions_by_function(FunctionName=IMAGE_CANDIDATE)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST"]


def test_parse_release_names_a_bad_image_uri() -> None:
    base = {"id": "r2", "bucket": "b-artifacts", "key": "releases/r2/app.zip", "sha256": "0" * 64}
    tagged = f"{URL}:latest"
    with pytest.raises(
        InvalidEvent, match=f"release.image.uri is '{tagged}'; expected an image pinned by digest"
    ):
        parse_release({"release": {**base, "image": {"uri": tagged}}})
    digest = "sha256:" + "a" * 64
    parsed = parse_release({"release": {**base, "image": {"uri": f"{URL}@{digest}"}}})
    assert parsed.image == f"{URL}@{digest}"
    assert parsed.code_of("Image") == "a" * 64
    assert parsed.code_of("Zip") == parsed.code_sha256

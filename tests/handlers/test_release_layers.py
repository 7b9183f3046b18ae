"""Layers built from the release (BuildSettings.layers): validate checks them, run_tests gives
them to the candidate, promote publishes them where the functions run, each exactly once per
content, and a function version keeps the layers it was published with."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import pytest

from serverless_pipeline.handlers import promote, release_layers, run_tests, validate
from serverless_pipeline.handlers.errors import (
    ArtifactCorrupt,
    ArtifactNotFound,
    ChecksumMismatch,
    InvalidEvent,
    WrongArchitecture,
)
from serverless_pipeline.handlers.events import layer_key, parse_release
from tests.handlers.conftest import (
    ARTIFACT_BUCKET,
    TWO,
    Account,
    application,
    build_zip,
    two_function_files,
)
from tests.handlers.test_candidate_code import candidate_versions
from tests.handlers.test_several_functions import BOTH
from tests.handlers.test_validate_runtimes import MACHINES, elf

LIBRARY = {"python/common.py": "GREETING = 'hello'\n"}


def monitoring(account: Account) -> str:
    """A layer published apart from the pipeline, named by ARN beside the release's own."""
    published = account.lam.publish_layer_version(
        LayerName="monitoring", Content={"ZipFile": build_zip({"extensions/agent": "#!/bin/sh\n"})}
    )
    return str(published["LayerVersionArn"])


def use_layers(monkeypatch: pytest.MonkeyPatch, worker: list[str], api: Sequence[str] = ()) -> None:
    document = json.loads(application(TWO))
    document["functions"][0]["layers"] = list(api)
    document["functions"][1]["layers"] = worker
    monkeypatch.setenv("APPLICATION", json.dumps(document))


def upload(account: Account, release_id: str, layers: dict[str, bytes]) -> dict[str, Any]:
    """A release of both functions with these layers beside its zip, as the build uploads it."""
    release: dict[str, Any] = account.upload(
        release_id, build_zip(two_function_files(manifest=BOTH))
    )
    release["layers"] = {}
    for name, data in layers.items():
        key = layer_key(release_id, name)
        stored = account.s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=data)
        release["layers"][name] = {
            "key": key,
            "sha256": hashlib.sha256(data).hexdigest(),
            "version_id": stored["VersionId"],
        }
    return release


def start(release: dict[str, Any], environment: str = "staging") -> Any:
    """Start the release's deployment to the environment and read its status once (the
    emulated CodeDeploy settles a deployment when it is first read), so the next may start."""
    event = {"environment": environment, "release": release, "execution": f"e-{release['id']}"}
    report = promote.handler({"action": "start", **event}, None)
    promote.handler({"action": "status", **event}, None)
    return report


def layers_of(account: Account, function: str, version: str, environment: str = "staging") -> Any:
    configuration = account.lam.get_function_configuration(
        FunctionName=account.function_name(environment, function), Qualifier=version
    )
    return [layer["Arn"] for layer in configuration.get("Layers", [])]


def versions_of(account: Account, layer: str) -> list[dict[str, Any]]:
    name = release_layers.layer_name("app", layer)
    listed: list[dict[str, Any]] = account.lam.list_layer_versions(LayerName=name)["LayerVersions"]
    return listed


def test_promote_publishes_the_release_layer_and_the_version_holds_it_in_order(
    two_functions: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = monitoring(two_functions)
    use_layers(monkeypatch, ["common", agent])
    release = upload(two_functions, "r2", {"common": build_zip(LIBRARY)})
    report = start(release)
    [published] = versions_of(two_functions, "common")
    version = report["functions"]["worker"]["target_version"]
    assert layers_of(two_functions, "worker", version) == [
        published["LayerVersionArn"],
        agent,
    ]
    assert not layers_of(two_functions, "api", report["functions"]["api"]["target_version"])
    # Lambda read the layer from the environment's own bucket, as it reads the code.
    stored = two_functions.s3.head_object(
        Bucket="app-staging-releases", Key=layer_key("r2", "common")
    )
    assert stored["Metadata"]["sha256"] == release["layers"]["common"]["sha256"]


def test_the_same_layer_content_publishes_once_and_new_content_once_more(
    two_functions: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_layers(monkeypatch, ["common"])
    first = start(upload(two_functions, "r2", {"common": build_zip(LIBRARY)}))
    # Production, and the next release with the same layer, find the version.
    start(upload(two_functions, "r2", {"common": build_zip(LIBRARY)}), "production")
    start(upload(two_functions, "r3", {"common": build_zip(LIBRARY)}), "production")
    assert len(versions_of(two_functions, "common")) == 1
    changed = {"python/common.py": "GREETING = 'hi'\n"}
    third = start(upload(two_functions, "r4", {"common": build_zip(changed)}))
    listed = sorted(v["LayerVersionArn"] for v in versions_of(two_functions, "common"))
    assert len(listed) == 2
    # Each function version keeps its own layer version: rolling back to r2's restores r2's.
    r2_version = first["functions"]["worker"]["target_version"]
    r4_version = third["functions"]["worker"]["target_version"]
    assert layers_of(two_functions, "worker", r2_version) == [listed[0]]
    assert layers_of(two_functions, "worker", r4_version) == [listed[1]]


def test_the_candidate_runs_with_the_release_layer_published_in_the_pipeline(
    two_functions: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = monitoring(two_functions)
    use_layers(monkeypatch, ["common", agent])
    seen = candidate_versions(two_functions)
    release = upload(two_functions, "r2", {"common": build_zip(LIBRARY)})
    report = run_tests.handler({"release": release, "stage": "candidate"}, None)
    assert report["passed"] == 3
    [published] = versions_of(two_functions, "common")
    worker = next(c for c in seen if c["Handler"] == "worker.handler")
    assert [a["Arn"] for a in worker["Layers"]] == [published["LayerVersionArn"], agent]


def test_validate_reports_each_layer_and_refuses_one_the_release_lacks(
    two_functions: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_layers(monkeypatch, ["common"])
    release = upload(two_functions, "r2", {"common": build_zip(LIBRARY)})
    assert validate.handler({"release": release}, None)["layer_files"] == {"common": 1}
    use_layers(monkeypatch, ["common", "vendor"])
    missing = "release r2 has no layer 'vendor' \\(it has common\\)"
    with pytest.raises(ArtifactNotFound, match=missing):
        validate.handler({"release": release}, None)


@pytest.mark.parametrize(
    ("architecture", "native", "error"),
    [
        ("arm64", "x86_64", WrongArchitecture),
        ("x86_64", "arm64", WrongArchitecture),
        ("arm64", "arm64", None),
    ],
)
def test_validate_refuses_layer_native_code_of_another_architecture(
    two_functions: Account,
    monkeypatch: pytest.MonkeyPatch,
    architecture: str,
    native: str,
    error: type[Exception] | None,
) -> None:
    document = json.loads(application(TWO))
    document["functions"][1].update(layers=["native"], architecture=architecture)
    monkeypatch.setenv("APPLICATION", json.dumps(document))
    layer = build_zip({"python/fast/_speedups.so": elf(MACHINES[native])})
    release = upload(two_functions, "r2", {"native": layer})
    if error is None:
        assert validate.handler({"release": release}, None)["layer_files"] == {"native": 1}
    else:
        with pytest.raises(error, match="_speedups.so"):
            validate.handler({"release": release}, None)


def test_validate_refuses_a_layer_whose_bytes_changed_or_that_is_no_zip(
    two_functions: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_layers(monkeypatch, ["common"])
    release = upload(two_functions, "r2", {"common": build_zip(LIBRARY)})
    two_functions.s3.put_object(
        Bucket=ARTIFACT_BUCKET, Key=layer_key("r2", "common"), Body=b"tampered"
    )
    del release["layers"]["common"]["version_id"]
    with pytest.raises(ChecksumMismatch, match="layers/common.zip"):
        validate.handler({"release": release}, None)
    release = upload(two_functions, "r3", {"common": b"not a zip"})
    with pytest.raises(ArtifactCorrupt):
        validate.handler({"release": release}, None)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ({"common": {"key": "releases/r1/layers/common.zip", "sha256": "0" * 64}}, "key is"),
        ({"common": {"key": "releases/r2/layers/other.zip", "sha256": "0" * 64}}, "key is"),
        ({"common": {"key": "releases/r2/layers/common.zip", "sha256": "abc"}}, "sha256 is"),
        ({"../x": {"key": "releases/r2/layers/../x.zip", "sha256": "0" * 64}}, "names '../x'"),
        (["common"], "release.layers must be a JSON object"),
    ],
)
def test_a_release_event_names_each_layer_at_its_own_key(layers: Any, message: str) -> None:
    release = {
        "id": "r2",
        "bucket": ARTIFACT_BUCKET,
        "key": "releases/r2/app.zip",
        "sha256": "0" * 64,
        "layers": layers,
    }
    with pytest.raises(InvalidEvent, match=message.replace("(", "\\(")):
        parse_release({"release": release})


def test_a_layer_lambda_read_differently_is_deleted_and_refused(
    two_functions: Account,
) -> None:
    """The store hands Lambda other bytes than the build's: the version Lambda made is deleted,
    so the checksum in its description never finds wrong content later."""
    uploaded = upload(two_functions, "r2", {"common": build_zip(LIBRARY)})
    release = parse_release({"release": uploaded})

    def store(name: str, layer: Any) -> release_layers.Content:
        return {"ZipFile": build_zip({"python/other.py": ""})}  # type: ignore[dict-item]

    with pytest.raises(ChecksumMismatch, match="layer app-common version 1"):
        release_layers.publish(two_functions.lam, "app", release, {"common"}, store)
    assert versions_of(two_functions, "common") == []

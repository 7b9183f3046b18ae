"""The candidate function takes each case's function as Lambda would run it: its runtime,
architecture and layers, not only its handler and memory."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from serverless_pipeline.handlers import clients, promote, run_tests
from tests.handlers.conftest import (
    CANDIDATE_FUNCTION,
    REGION,
    TWO,
    Account,
    application,
    build_zip,
    two_function_files,
)
from tests.handlers.test_several_functions import BOTH

FUNCTIONS = TWO


def candidate_versions(account: Account) -> list[dict[str, Any]]:
    """The configuration of every candidate version run_tests publishes, read just before it
    deletes the version again."""
    seen: list[dict[str, Any]] = []

    def before_delete(params: dict[str, Any], **_: Any) -> None:
        if params.get("FunctionName") == CANDIDATE_FUNCTION and params.get("Qualifier"):
            seen.append(
                account.lam.get_function_configuration(
                    FunctionName=CANDIDATE_FUNCTION, Qualifier=params["Qualifier"]
                )
            )

    clients.client("lambda").meta.events.register(
        "provide-client-params.lambda.DeleteFunction", before_delete
    )
    return seen


def test_each_case_runs_on_its_functions_runtime_architecture_and_layers(
    two_functions: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = boto3.client("lambda", region_name=REGION).publish_layer_version(
        LayerName="shared-lib",
        Content={"ZipFile": build_zip({"python/shared.py": "X = 1\n"})},
    )["LayerVersionArn"]
    document = json.loads(application(FUNCTIONS))
    worker = document["functions"][1]
    worker.update(runtime="python3.12", architecture="arm64", layers=[layer])
    monkeypatch.setenv("APPLICATION", json.dumps(document))
    seen = candidate_versions(two_functions)
    try:
        release = two_functions.upload("r2", build_zip(two_function_files(manifest=BOTH)))
        report = run_tests.handler({"release": release, "stage": "candidate"}, None)
    finally:
        clients.client("lambda").meta.events.unregister(
            "provide-client-params.lambda.DeleteFunction"
        )
    assert report["passed"] == 3
    by_handler = {c["Handler"]: c for c in seen}
    assert by_handler["app.handler"]["Runtime"] == "python3.13"
    assert by_handler["app.handler"]["Architectures"] == ["x86_64"]
    assert not by_handler["app.handler"].get("Layers")
    assert by_handler["worker.handler"]["Runtime"] == "python3.12"
    assert by_handler["worker.handler"]["Architectures"] == ["arm64"]
    assert [a["Arn"] for a in by_handler["worker.handler"]["Layers"]] == [layer]


def test_promote_sends_each_functions_architecture_with_its_code(
    two_functions: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Terraform leaves x86_64, Lambda's default, unset, so a function moved back from arm64
    keeps arm64 until its code arrives with the architecture (UpdateFunctionCode's
    Architectures): promote sends it with every release."""
    lam = two_functions.lam
    api = two_functions.function_name("staging", "api")
    # The api function runs on arm64 from an earlier configuration; it is x86_64 now.
    lam.update_function_code(
        FunctionName=api, Architectures=["arm64"], ZipFile=build_zip({"x.py": ""})
    )
    document = json.loads(application(FUNCTIONS))
    document["functions"][1]["architecture"] = "arm64"
    monkeypatch.setenv("APPLICATION", json.dumps(document))
    release = two_functions.upload("r2", build_zip(two_function_files(manifest=BOTH)))
    event = {"action": "start", "environment": "staging", "release": release, "execution": "e1"}
    promote.handler(event, None)
    architectures = {
        function: lam.get_function_configuration(
            FunctionName=two_functions.function_name("staging", function)
        )["Architectures"]
        for function in FUNCTIONS
    }
    assert architectures == {"api": ["x86_64"], "worker": ["arm64"]}

"""Two functions released as one: validate checks both handlers and the cases' functions,
run_tests runs each case in its function, promote deploys both at once, and rollback restores
both, whichever of them failed."""

from __future__ import annotations

from typing import Any

import pytest
from moto.codedeploy.models import codedeploy_backends
from moto.core import DEFAULT_ACCOUNT_ID

from serverless_pipeline.handlers import promote, rollback, run_tests, validate
from serverless_pipeline.handlers.errors import (
    DeploymentFailed,
    EnvironmentNotOnRelease,
    HandlerNotFound,
    InvalidEvent,
    InvalidTestManifest,
    TestCasesFailed,
)
from tests.handlers.conftest import (
    MANIFEST,
    REGION,
    WORKER_SOURCE,
    Account,
    app_files,
    build_zip,
    two_function_files,
)

WORKER_CASE = {
    "name": "worker processes a batch",
    "function": "worker",
    "event": {"messages": [1, 2, 3]},
    "expected": {"processed": 3},
}
BOTH = {"cases": [*MANIFEST["cases"], WORKER_CASE]}


def deploy_event(release: dict[str, str], environment: str, action: str) -> dict[str, Any]:
    return {"action": action, "environment": environment, "release": release, "execution": "e1"}


def test_validate_checks_every_functions_handler(two_functions: Account) -> None:
    release = two_functions.upload("r2", build_zip(two_function_files(manifest=BOTH)))
    assert validate.handler({"release": release}, None)["test_cases"] == 3
    without_worker = two_functions.upload("r3", build_zip(app_files(manifest=BOTH)))
    with pytest.raises(HandlerNotFound, match="handler module worker.py is not in the release"):
        validate.handler({"release": without_worker}, None)


def test_a_case_that_calls_an_unknown_function_is_refused(two_functions: Account) -> None:
    stray = {**WORKER_CASE, "name": "stray", "function": "mailer"}
    manifest = {"cases": [*MANIFEST["cases"], stray]}
    release = two_functions.upload("r2", build_zip(two_function_files(manifest=manifest)))
    with pytest.raises(
        InvalidTestManifest,
        match="case 'stray' calls function 'mailer'; the application's functions are api, worker",
    ):
        validate.handler({"release": release}, None)


def test_each_candidate_case_runs_in_its_own_functions_handler(two_functions: Account) -> None:
    release = two_functions.upload("r2", build_zip(two_function_files(manifest=BOTH)))
    report = run_tests.handler({"release": release, "stage": "candidate"}, None)
    assert [(c["name"], c["passed"]) for c in report["cases"]] == [
        ("greets", True),
        ("rejects", True),
        ("worker processes a batch", True),
    ]
    # The worker's own bug fails its case, not the api's.
    broken = WORKER_SOURCE.replace('len(event["messages"])', 'len(event["messages"]) - 1')
    bad = two_functions.upload("r3", build_zip(two_function_files(broken, manifest=BOTH)))
    with pytest.raises(TestCasesFailed, match="1 of 3 candidate cases failed: worker processes"):
        run_tests.handler({"release": bad, "stage": "candidate"}, None)


def test_both_functions_deploy_at_once_and_the_environment_is_done_when_both_are(
    two_functions: Account,
) -> None:
    release = two_functions.upload("r2", build_zip(two_function_files(manifest=BOTH)))
    started = promote.handler(deploy_event(release, "staging", "start"), None)
    assert started["status"] == "InProgress"
    ids = {f: d["deployment_id"] for f, d in started["functions"].items()}
    assert sorted(ids) == ["api", "worker"] and all(ids.values())
    # Both deployments exist before either is looked at: they shift side by side.
    backend = codedeploy_backends[DEFAULT_ACCOUNT_ID][REGION]
    assert {backend.deployments[i].status for i in ids.values()} == {"Created"}
    done = promote.handler(deploy_event(release, "staging", "status"), None)
    assert done["status"] == "Succeeded"
    assert (
        two_functions.live_version("staging", "api"),
        two_functions.live_version("staging", "worker"),
    ) == ("2", "2")
    # And through their aliases, each runs its own handler on staging's configuration.
    report = run_tests.handler({"release": release, "stage": "staging"}, None)
    assert report["passed"] == 2  # "greets" is a candidate-only case


def test_one_functions_failure_fails_the_environment_and_rollback_restores_both(
    two_functions: Account,
) -> None:
    release = two_functions.upload("r2", build_zip(two_function_files(manifest=BOTH)))
    started = promote.handler(deploy_event(release, "staging", "start"), None)
    worker = started["functions"]["worker"]["deployment_id"]
    two_functions.codedeploy.stop_deployment(deploymentId=worker)
    with pytest.raises(DeploymentFailed, match=f"deployment {worker} of worker in staging ended"):
        promote.handler(deploy_event(release, "staging", "status"), None)
    # The api's own deployment succeeded; the release is atomic, so it goes back too.
    assert two_functions.live_version("staging", "api") == "2"
    report = rollback.handler({"release": release, "execution": "e1"}, None)
    assert report["environments"]["staging"]["api"]["action"] == "restored"
    assert report["environments"]["staging"]["worker"]["action"] == "already_restored"
    assert report["environments"]["production"] == {
        "api": {"action": "untouched"},
        "worker": {"action": "untouched"},
    }
    assert two_functions.live_version("staging", "api") == "1"
    assert two_functions.live_version("staging", "worker") == "1"


def test_an_environment_not_wholly_on_the_release_is_not_tested(two_functions: Account) -> None:
    release = two_functions.upload("r2", build_zip(two_function_files(manifest=BOTH)))
    promote.handler(deploy_event(release, "staging", "start"), None)
    promote.handler(deploy_event(release, "staging", "status"), None)
    two_functions.lam.update_alias(
        FunctionName=two_functions.function_name("staging", "worker"),
        Name="live",
        FunctionVersion="1",
    )
    with pytest.raises(EnvironmentNotOnRelease, match="app-worker-staging:live serves version 1"):
        run_tests.handler({"release": release, "stage": "staging"}, None)


def test_the_tests_of_an_environment_name_it(two_functions: Account) -> None:
    release = two_functions.upload("r2", build_zip(two_function_files(manifest=BOTH)))
    with pytest.raises(
        InvalidEvent, match="environment is 'qa'; expected one of staging, production"
    ):
        run_tests.handler({"release": release, "stage": "staging", "environment": "qa"}, None)

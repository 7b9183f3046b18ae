"""The real state machine and handlers, rehearsed against the emulator with real defects."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import pytest

from serverless_pipeline import asl
from serverless_pipeline.application_settings import SMOKE_TESTS
from serverless_pipeline.cli import main, run_rehearsal
from serverless_pipeline.config import PipelineConfig
from serverless_pipeline.example import example_config
from serverless_pipeline.rehearsal import account
from serverless_pipeline.rehearsal.runner import Rehearsal, ReleaseOutcome, rehearse
from tests.conftest import one

# Slow: left out of `make test-fast`.
pytestmark = pytest.mark.slow

# The keys of each release in `rehearse --json`: a contract scripts rely on.
RELEASE_KEYS = {
    "release",
    "kind",
    "outcome",
    "failed_state",
    "error",
    "cause",
    "path",
    "live",
    "functions",
    "rollback",
}
# Every kind once, after a healthy release, then a healthy one again: r2 .. r8.
SEQUENCE = [
    "ok",
    "validate",
    "unit-tests",
    "staging-deploy",
    "staging-tests",
    "production-deploy",
    "worker-staging-tests",
    "worker-production-deploy",
    "ok",
]
FAILS_AT = {
    "validate": ("ValidateCode", "SourceDoesNotCompile"),
    "unit-tests": ("RunTests", "TestCasesFailed"),
    "staging-deploy": ("CheckStagingDeployment", "DeploymentFailed"),
    "staging-tests": ("RunTestsInStaging", "TestCasesFailed"),
    "production-deploy": ("CheckProductionDeployment", "DeploymentFailed"),
    "worker-staging-tests": ("RunTestsInStaging", "TestCasesFailed"),
    "worker-production-deploy": ("CheckProductionDeployment", "DeploymentFailed"),
}
EVERY_FUNCTION_ON_R2 = {
    "staging": {"api": "r2", "worker": "r2", "notifier": "r2"},
    "production": {"api": "r2", "worker": "r2", "notifier": "r2"},
}
PROMOTED_PATH = [
    "Configure",
    "ClaimPipeline",
    "ValidateCode",
    "RunTests",
    # Staging's gates: its alarms are quiet, the line is open, no window.
    "StartStagingGates",
    "CheckStagingGates",
    "StagingGatesOpen",
    "DeployStaging",
    "StagingDeployed",
    "WaitForStagingDeployment",
    "CheckStagingDeployment",
    "StagingDeployed",
    "RunTestsInStaging",
    "ApprovalRequired",
    "StartProductionGates",
    "CheckProductionGates",
    "ProductionGatesOpen",
    "DeployProduction",
    "ProductionDeployed",
    # Production's canary (10% for 5 minutes) is polled every 30 s, as in AWS: the first check
    # starts the shift, ten more find it done after its 300 s on the emulator's clock.
    *["WaitForProductionDeployment", "CheckProductionDeployment", "ProductionDeployed"] * 11,
    # Then it bakes there for its 10 minutes under watch.
    "BakeProduction",
    "CheckProductionBake",
    "NotifyPromoted",
    "Success",
]


@pytest.fixture(scope="module")
def matrix() -> Rehearsal:
    return rehearse(example_config(), SEQUENCE)


def outcome(matrix: Rehearsal, kind: str) -> ReleaseOutcome:
    return next(r for r in matrix.releases if r.kind == kind)


def test_a_healthy_release_is_promoted_to_both(matrix: Rehearsal) -> None:
    first = matrix.releases[0]
    assert (first.release, first.outcome, first.failed_state) == ("r2", "promoted", None)
    assert first.path == PROMOTED_PATH
    assert first.live == {"staging": "r2", "production": "r2"}


@pytest.mark.parametrize("kind", sorted(FAILS_AT))
def test_each_defect_rolls_back_at_its_stage(matrix: Rehearsal, kind: str) -> None:
    result = outcome(matrix, kind)
    state, error = FAILS_AT[kind]
    assert result.outcome == "rolled_back"
    assert (result.failed_state, result.error) == (state, error)
    assert result.path[-3:] == ["Rollback", "NotifyRolledBack", "ReleaseFailed"]
    # Both environments serve exactly what they served before: r2, the last promoted release,
    # on every function, whichever function the defect was in.
    assert result.live == {"staging": "r2", "production": "r2"}
    assert result.functions == EVERY_FUNCTION_ON_R2


def test_subscribers_hear_each_rollback_with_the_failed_state(matrix: Rehearsal) -> None:
    rolled_back = {n["release"]: n for n in matrix.notifications if n["outcome"] == "rolled_back"}
    for result in matrix.releases:
        if result.outcome == "rolled_back":
            message = rolled_back[result.release]
            assert (message["failed_state"], message["error"]) == (
                result.failed_state,
                result.error,
            )
            assert message["cause"]
    promoted = [n["release"] for n in matrix.notifications if n["outcome"] == "promoted"]
    assert promoted == ["r2", "r10"]


@pytest.mark.parametrize("kind", ["validate", "unit-tests"])
def test_a_release_failing_before_staging_never_touches_an_environment(
    matrix: Rehearsal, kind: str
) -> None:
    path = outcome(matrix, kind).path
    assert "DeployStaging" not in path and "DeployProduction" not in path


def test_the_next_release_after_rollbacks_is_promoted(matrix: Rehearsal) -> None:
    last = matrix.releases[-1]
    assert (last.release, last.outcome) == ("r10", "promoted")
    assert matrix.live == {"staging": "r10", "production": "r10"}


def test_the_done_when_sequence_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rehearse", "ok", "staging-tests", "ok", "production-deploy", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(r["release"], r["outcome"]) for r in document["releases"]] == [
        ("r2", "promoted"),
        ("r3", "rolled_back"),
        ("r4", "promoted"),
        ("r5", "rolled_back"),
    ]
    # Rolls back to the last promoted release (r4), not to r1.
    assert document["releases"][3]["live"] == {"staging": "r4", "production": "r4"}
    assert document["live"] == {"staging": "r4", "production": "r4"}
    assert set(document["releases"][0]) == RELEASE_KEYS
    # The cause is what the failed state's handler said, not only its error's name.
    failed = document["releases"][1]
    assert (failed["failed_state"], failed["error"]) == ("RunTestsInStaging", "TestCasesFailed")
    assert failed["cause"].startswith("2 of 5 staging cases failed: sums an order: expected")
    assert "got error KeyError" in failed["cause"]
    assert document["releases"][0]["cause"] is None


def test_the_table_shows_why_a_release_failed() -> None:
    out = io.StringIO()
    assert run_rehearsal(["unit-tests"], as_json=False, out=out) == 1
    text = out.getvalue()
    failed = "\nr2 RunTests: TestCasesFailed\n    1 of 5 candidate cases failed: sums an order"
    assert failed in text


def test_progress_and_table_are_printed() -> None:
    out = io.StringIO()
    assert run_rehearsal(["ok"], as_json=False, out=out) == 0
    text = out.getvalue()
    assert "release r2\n  Configure" in text and "\n  ValidateCode" in text
    assert "Success" in text and "succeeded" in text
    assert "release  kind  outcome   failed state  staging  production" in text
    assert "r2       ok    promoted  -             r2       r2" in text
    assert "Traceback" not in text and "WARNING" not in text


def test_an_unknown_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rehearse", "ok", "explode"]) == 2
    error = capsys.readouterr().err
    assert "unknown release kind 'explode'" in error
    assert (
        "valid kinds: ok, validate, unit-tests, staging-deploy, staging-tests, "
        "production-deploy" in error
    )


def differences(left: Any, right: Any, where: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(left, dict) and isinstance(right, dict):
        assert left.keys() == right.keys(), where
        return [d for key in left for d in differences(left[key], right[key], f"{where}/{key}")]
    if isinstance(left, list) and isinstance(right, list):
        assert len(left) == len(right), where
        return [
            d
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            for d in differences(a, b, f"{where}/{i}")
        ]
    return [] if left == right else [(where, left, right)]


def test_the_rehearsed_definition_is_the_synthesized_one_but_for_filled_values(
    example: dict[str, Any],
) -> None:
    synthesized = json.loads(one(example, "aws_sfn_state_machine", "state-machine")["definition"])
    rehearsed = json.loads(account.deployment_definition(example_config()))
    template = asl.compose([("staging", None), ("production", None)], {"production": 600})
    changed = differences(synthesized, rehearsed)
    assert changed, "the ARNs at least must differ"
    for where, _, _ in changed:
        node: Any = template
        for part in where.strip("/").split("/"):
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert asl.placeholders(node), f"{where} differs but is no placeholder in the template"


def with_production(**changes: Any) -> PipelineConfig:
    """The example with production's settings changed."""
    config = example_config()
    assert config.environments is not None
    staging, production = config.environments
    production = dataclasses.replace(production, **changes)
    return dataclasses.replace(config, environments=(staging, production))


def test_approval_promotes_rejection_and_silence_roll_back() -> None:
    config = with_production(approval_timeout_seconds=3600)
    answers = {"r2": "approve", "r3": "reject", "r4": None}
    rehearsal = rehearse(config, ["ok", "ok", "ok"], approver=answers.get)
    approved, rejected, silent = rehearsal.releases
    assert approved.outcome == "promoted"
    assert "WaitForApproval" in approved.path
    assert (rejected.outcome, rejected.failed_state, rejected.error) == (
        "rolled_back",
        "WaitForApproval",
        "ReleaseRejected",
    )
    # Staging had moved to r3 before the rejection; rollback put it back.
    assert rejected.live == {"staging": "r2", "production": "r2"}
    assert (silent.outcome, silent.failed_state) == ("rolled_back", "WaitForApproval")
    assert rehearsal.live == {"staging": "r2", "production": "r2"}
    # Subscribers heard each request and each outcome, with the error of a rollback.
    heard = [(n["release"], n["outcome"], n.get("error")) for n in rehearsal.notifications]
    assert heard == [
        ("r2", "waiting_for_approval", None),
        ("r2", "promoted", None),
        ("r3", "waiting_for_approval", None),
        ("r3", "rolled_back", "ReleaseRejected"),
        ("r4", "waiting_for_approval", None),
        ("r4", "rolled_back", "States.Timeout"),
    ]
    request = rehearsal.notifications[0]
    assert '"action": "approve", "release_id": "r2"' in request["approve"]


def test_the_library_traffic_hook_stops_a_bad_version_before_it_gets_traffic() -> None:
    config = with_production(before_allow_traffic=SMOKE_TESTS)
    rehearsal = rehearse(config, ["ok", "production-deploy"])
    healthy, broken = rehearsal.releases
    assert healthy.outcome == "promoted"
    assert (broken.outcome, broken.failed_state) == ("rolled_back", "CheckProductionDeployment")
    assert broken.live == {"staging": "r2", "production": "r2"}
    cause = rehearsal.notifications[-1]["cause"]
    assert (
        "HOOK_EXECUTION_FAILURE BeforeAllowTraffic hook orders-traffic-hook reported Failed"
        in cause
    )


def test_a_worker_defect_rolls_back_the_api_too(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["rehearse", "ok", "worker-production-deploy", "ok", "worker-staging-tests", "--json"]
    )
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    releases = document["releases"]
    assert [(r["release"], r["outcome"]) for r in releases] == [
        ("r2", "promoted"),
        ("r3", "rolled_back"),
        ("r4", "promoted"),
        ("r5", "rolled_back"),
    ]
    # The worker's alarm went off in its canary; CodeDeploy had already moved the worker back,
    # and Rollback restored the api, whose own deployment had succeeded, in both environments.
    assert releases[1]["rollback"] == {
        "production": {"api": "restored", "worker": "already_restored", "notifier": "restored"},
        "staging": {"api": "restored", "worker": "restored", "notifier": "restored"},
    }
    assert releases[1]["functions"] == {
        "staging": {"api": "r2", "worker": "r2", "notifier": "r2"},
        "production": {"api": "r2", "worker": "r2", "notifier": "r2"},
    }
    # The worker failed its tests in staging: every function there goes back, production untouched.
    assert releases[3]["failed_state"] == "RunTestsInStaging"
    assert releases[3]["rollback"] == {
        "production": {"api": "untouched", "worker": "untouched", "notifier": "untouched"},
        "staging": {"api": "restored", "worker": "restored", "notifier": "restored"},
    }
    every_function_on_r4 = {"api": "r4", "worker": "r4", "notifier": "r4"}
    assert document["functions"] == {
        "staging": every_function_on_r4,
        "production": every_function_on_r4,
    }
    assert document["live"] == {"staging": "r4", "production": "r4"}


def test_an_operator_who_stops_a_deployment_leaves_nothing_half_deployed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["rehearse", "ok", "abort-production", "ok", "abort-staging", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    releases = document["releases"]
    assert [(r["release"], r["outcome"], r["failed_state"], r["error"]) for r in releases] == [
        ("r2", "promoted", None, None),
        # Stopped during production's canary: no Rollback state ran; the cleanup rule did.
        ("r3", "rolled_back", "CheckProductionDeployment", "ExecutionAborted"),
        ("r4", "promoted", None, None),
        ("r5", "rolled_back", "CheckStagingDeployment", "ExecutionAborted"),
    ]
    assert "Rollback" not in releases[1]["path"]
    assert releases[1]["rollback"]["production"] == {
        "api": "restored",
        "worker": "restored",
        "notifier": "restored",
    }
    assert releases[3]["rollback"]["production"] == {
        "api": "untouched",
        "worker": "untouched",
        "notifier": "untouched",
    }
    every_function_on_r4 = {"api": "r4", "worker": "r4", "notifier": "r4"}
    assert document["functions"] == {
        "staging": every_function_on_r4,
        "production": every_function_on_r4,
    }
    assert document["live"] == {"staging": "r4", "production": "r4"}


def test_subscribers_hear_what_the_cleanup_restored() -> None:
    rehearsal = rehearse(example_config(), ["abort-staging"])
    (aborted,) = rehearsal.releases
    assert aborted.live == {"staging": "r1", "production": "r1"}
    (message,) = [n for n in rehearsal.notifications if n.get("status") == "ABORTED"]
    assert message["restored"] == {"staging": ["api", "notifier", "worker"]}
    assert message["release"] == "r2" and message["execution"] == "release-r2"

from __future__ import annotations

import base64

import pytest

from serverless_pipeline.handlers import promote, run_tests
from serverless_pipeline.handlers.errors import (
    EnvironmentNotOnRelease,
    InvalidEvent,
    TestCasesFailed,
)
from tests.handlers.conftest import MANIFEST, Account, app_files, build_zip

STAGING_ONLY_BUG = """
import os

def handler(event, context):
    if "fail" in event:
        raise ValueError(event["fail"])
    if os.environ.get("GREETING", "").endswith("staging"):
        return {"greeting": None}
    return {"greeting": "hello " + event["name"]}
"""
STAGING_CASE = {
    "name": "greets in staging",
    "event": {"name": "bo"},
    "expected": {"greeting": "hello from staging bo"},
    "stages": ["staging"],
}


def deploy_to_staging(account: Account, release: dict[str, str]) -> None:
    event = {"action": "start", "environment": "staging", "release": release, "execution": "e1"}
    promote.handler(event, None)
    promote.handler({**event, "action": "status"}, None)


def test_candidate_cases_pass_and_are_reported(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    report = run_tests.handler({"release": release, "stage": "candidate"}, None)
    assert report["passed"] == 2
    assert [c["name"] for c in report["cases"]] == ["greets", "rejects"]


def test_a_failing_candidate_case_raises_with_the_difference(account: Account) -> None:
    broken = app_files(source="def handler(event, context):\n    return {'greeting': 'hi'}\n")
    release = account.upload("r2", build_zip(broken))
    with pytest.raises(TestCasesFailed) as raised:
        run_tests.handler({"release": release, "stage": "candidate"}, None)
    message = str(raised.value)
    assert message.startswith("2 of 2 candidate cases failed")
    assert 'greets: expected {"greeting": "hello ada"}, got {"greeting": "hi"}' in message
    assert "rejects: expected error ValueError" in message


def test_candidate_code_runs_in_the_candidate_function_with_the_cases_environment(
    account: Account,
) -> None:
    # Release code is not trusted yet: it runs in a function of its own whose role can only
    # write its logs (tests/security/test_least_privilege.py), never inside run_tests.
    snoop = (
        "import os\n"
        "def handler(event, context):\n"
        "    return [os.environ['AWS_LAMBDA_FUNCTION_NAME'], os.environ.get('MODE')]\n"
    )
    manifest = {
        "cases": [
            {"name": "plain", "event": {}, "expected": ["app-candidate", None]},
            {
                "name": "with its environment",
                "event": {},
                "expected": ["app-candidate", "strict"],
                "environment": {"MODE": "strict"},
            },
            {"name": "plain again", "event": {}, "expected": ["app-candidate", None]},
        ]
    }
    release = account.upload("r2", build_zip(app_files(source=snoop, manifest=manifest)))
    report = run_tests.handler({"release": release, "stage": "candidate"}, None)
    assert [c["passed"] for c in report["cases"]] == [True, True, True]
    # Every version published for the cases is gone again; only $LATEST holds the release.
    versions = account.lam.list_versions_by_function(FunctionName="app-candidate")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST"]
    latest = account.lam.get_function_configuration(FunctionName="app-candidate")
    assert latest["CodeSha256"] == base64.b64encode(bytes.fromhex(release["sha256"])).decode()


def test_a_hanging_case_times_out(account: Account) -> None:
    account.lam.update_function_configuration(FunctionName="app-candidate", Timeout=1)
    slow = "import time\ndef handler(event, context):\n    time.sleep(5)\n"
    manifest = {"cases": [{"name": "slow", "event": {}, "expected": None}]}
    release = account.upload("r2", build_zip(app_files(source=slow, manifest=manifest)))
    with pytest.raises(TestCasesFailed, match="Sandbox.Timedout"):
        run_tests.handler({"release": release, "stage": "candidate"}, None)


def test_staging_cases_run_through_the_live_alias(account: Account) -> None:
    manifest = {"cases": [*MANIFEST["cases"], STAGING_CASE]}
    release = account.upload("r2", build_zip(app_files(manifest=manifest)))
    deploy_to_staging(account, release)
    report = run_tests.handler({"release": release, "stage": "staging"}, None)
    assert [c["name"] for c in report["cases"]] == ["rejects", "greets in staging"]


def test_a_bug_that_needs_stagings_configuration_fails_only_in_staging(account: Account) -> None:
    manifest = {"cases": [*MANIFEST["cases"], STAGING_CASE]}
    release = account.upload("r2", build_zip(app_files(source=STAGING_ONLY_BUG, manifest=manifest)))
    assert run_tests.handler({"release": release, "stage": "candidate"}, None)["passed"] == 2
    deploy_to_staging(account, release)
    with pytest.raises(TestCasesFailed, match="greets in staging: expected"):
        run_tests.handler({"release": release, "stage": "staging"}, None)


def test_staging_must_serve_the_release_under_test(account: Account) -> None:
    release = account.upload("r2", build_zip({**app_files(), "new.py": "X = 2\n"}))
    with pytest.raises(EnvironmentNotOnRelease, match="serves version 1, whose code is not"):
        run_tests.handler({"release": release, "stage": "staging"}, None)


def test_a_re_release_of_identical_code_is_testable_in_staging(account: Account) -> None:
    manifest = {"cases": [*MANIFEST["cases"], STAGING_CASE]}
    first = account.upload("r2", build_zip(app_files(manifest=manifest)))
    deploy_to_staging(account, first)
    again = account.upload("r3", build_zip(app_files(manifest=manifest)))
    promote.handler(
        {"action": "start", "environment": "staging", "release": again, "execution": "e2"}, None
    )
    promote.handler(
        {"action": "status", "environment": "staging", "release": again, "execution": "e2"}, None
    )
    assert run_tests.handler({"release": again, "stage": "staging"}, None)["passed"] == 2


@pytest.mark.parametrize("stage", [None, "production", 3])
def test_unknown_stage_is_refused(account: Account, stage: object) -> None:
    release = account.upload("r2", build_zip(app_files()))
    with pytest.raises(InvalidEvent, match="expected one of candidate, staging"):
        run_tests.handler({"release": release, "stage": stage}, None)


def test_results_are_logged_as_one_structured_record(
    account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    release = account.upload("r2", build_zip(app_files()))
    with caplog.at_level("INFO", logger="serverless_pipeline.handlers.run_tests"):
        run_tests.handler({"release": release, "stage": "candidate"}, None)
    (record,) = [r for r in caplog.records if r.getMessage() == "test results"]
    assert record.__dict__["stage"] == "candidate"
    assert [r["passed"] for r in record.__dict__["results"]] == [True, True]

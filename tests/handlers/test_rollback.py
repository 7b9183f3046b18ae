from __future__ import annotations

import json
from typing import Any

import pytest

from serverless_pipeline.handlers import promote, records, rollback
from serverless_pipeline.handlers.errors import InvalidEvent, RollbackFailed
from tests.handlers.conftest import Account, app_files, build_zip, inbox


def deploy(release: dict[str, str], environment: str, execution: str = "e1") -> None:
    event = {
        "action": "start",
        "environment": environment,
        "release": release,
        "execution": execution,
    }
    promote.handler(event, None)
    promote.handler({**event, "action": "status"}, None)


def test_both_environments_go_back_to_what_they_served(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    deploy(release, "staging")
    deploy(release, "production")
    assert (account.live_version("staging"), account.live_version("production")) == ("2", "2")
    report = rollback.handler({"release": release, "execution": "e1"}, None)
    restored = {"action": "restored", "live_version": "1", "live_release": "r1"}
    assert report["environments"] == {"production": {"app": restored}, "staging": {"app": restored}}
    assert (account.live_version("staging"), account.live_version("production")) == ("1", "1")


def test_rollback_twice_is_safe(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    deploy(release, "staging")
    rollback.handler({"release": release, "execution": "e1"}, None)
    again = rollback.handler({"release": release, "execution": "e1"}, None)
    assert again["environments"]["staging"]["app"]["action"] == "already_restored"
    assert account.live_version("staging") == "1"


def test_untouched_environments_are_left_alone(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    deploy(release, "staging", execution="earlier")
    report = rollback.handler({"release": release, "execution": "e9"}, None)
    untouched = {"app": {"action": "untouched"}}
    assert report["environments"] == {"production": untouched, "staging": untouched}
    assert account.live_version("staging") == "2"


def test_a_deployment_still_running_is_stopped_and_the_alias_restored(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    report = promote.handler(
        {"action": "start", "environment": "staging", "release": release, "execution": "e1"}, None
    )
    rollback.handler({"release": release, "execution": "e1"}, None)
    started = report["functions"]["app"]["deployment_id"]
    deployment = account.codedeploy.get_deployment(deploymentId=started)
    assert deployment["deploymentInfo"]["status"] == "Stopped"
    assert account.live_version("staging") == "1"


def test_rolls_back_to_the_last_promoted_release_not_the_first(account: Account) -> None:
    r2 = account.upload("r2", build_zip(app_files()))
    deploy(r2, "staging", execution="e2")
    r3 = account.upload("r3", build_zip({**app_files(), "extra.py": "X = 3\n"}))
    deploy(r3, "staging", execution="e3")
    report = rollback.handler({"release": r3, "execution": "e3"}, None)
    assert report["environments"]["staging"]["app"]["live_release"] == "r2"


def test_an_environment_that_cannot_be_restored_fails_loudly_after_trying_all(
    account: Account,
) -> None:
    release = account.upload("r2", build_zip(app_files()))
    deploy(release, "staging")
    deploy(release, "production")
    account.lam.delete_alias(FunctionName="app-staging", Name="live")
    with pytest.raises(RollbackFailed, match="release r2: app in staging: ") as raised:
        rollback.handler({"release": release, "execution": "e1"}, None)
    assert "production" not in str(raised.value)
    assert account.live_version("production") == "1"


def test_a_malformed_event_changes_nothing(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    deploy(release, "staging")
    with pytest.raises(InvalidEvent, match="execution is missing"):
        rollback.handler({"release": release}, None)
    assert account.live_version("staging") == "2"


def test_an_execution_from_before_the_upgrade_is_still_rolled_back(account: Account) -> None:
    # The single form kept one record per environment (executions/<execution>/<environment>.json)
    # before several functions existed; an execution in flight across the upgrade must still be
    # restorable from it.
    release = account.upload("r2", build_zip(app_files()))
    deploy(release, "staging")
    current = records.key("e1", "staging", "app")
    loaded = records.load(account.s3, "app-staging-releases", current)
    assert loaded is not None
    record = loaded[0]
    del record["function"]
    records.save(
        account.s3, "app-staging-releases", "executions/e1/staging.json", record, etag=None
    )
    account.s3.delete_object(Bucket="app-staging-releases", Key=current)
    report = rollback.handler({"release": release, "execution": "e1"}, None)
    assert report["environments"]["staging"]["app"]["action"] == "restored"
    assert account.live_version("staging") == "1"


def status_change(release: dict[str, str], execution: str, status: str) -> dict[str, Any]:
    """The event EventBridge delivers for an execution's status change (Step Functions
    developer guide: "Step Functions Execution Status Change")."""
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": f"arn:aws:states:eu-west-1:123456789012:execution:app:{execution}",
            "name": execution,
            "status": status,
            "input": json.dumps({"release": release}),
        },
    }


def test_an_aborted_execution_is_restored_by_the_cleanup_and_subscribers_hear_it(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard = inbox(monkeypatch)
    release = account.upload("r2", build_zip(app_files()))
    deploy(release, "staging")
    # An operator stopped the execution: no Rollback state ran, the cleanup rule fires.
    report = rollback.handler(status_change(release, "e1", "ABORTED"), None)
    assert report["environments"]["staging"]["app"]["action"] == "restored"
    assert account.live_version("staging") == "1"
    (message,) = heard()
    assert message == {
        "execution": "e1",
        "outcome": "rolled_back",
        "release": "r2",
        "restored": {"staging": ["app"]},
        "status": "ABORTED",
    }


def test_after_the_state_machines_own_rollback_the_cleanup_is_quiet(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard = inbox(monkeypatch)
    release = account.upload("r2", build_zip(app_files()))
    deploy(release, "staging")
    rollback.handler({"release": release, "execution": "e1"}, None)
    report = rollback.handler(status_change(release, "e1", "FAILED"), None)
    assert report["environments"]["staging"]["app"]["action"] == "already_restored"
    assert heard() == []


def test_a_status_change_that_is_not_an_unfinished_ending_is_refused(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    with pytest.raises(InvalidEvent, match="status is 'SUCCEEDED'; expected one of ABORTED"):
        rollback.handler(status_change(release, "e1", "SUCCEEDED"), None)


@pytest.mark.parametrize(
    ("caught", "error", "failure"),
    [
        (
            {"Error": "AlarmBlocked", "Cause": "alarm x is in ALARM"},
            {"Error": "AlarmBlocked", "Cause": "alarm x is in ALARM"},
            {"Error": "AlarmBlocked", "Cause": "alarm x is in ALARM"},
        ),
        # A task past its TimeoutSeconds: Step Functions' own error, its cause optional
        # (Step Functions API reference, TaskTimedOutEventDetails).
        (
            {"Error": "States.Timeout"},
            {"Error": "States.Timeout", "Cause": "States.Timeout: Step Functions gave no cause"},
            {"Error": "Release.Timeout", "Cause": "States.Timeout: Step Functions gave no cause"},
        ),
        (
            {"Error": "States.TaskFailed", "Cause": "the task failed"},
            {"Error": "States.TaskFailed", "Cause": "the task failed"},
            {"Error": "Release.TaskFailed", "Cause": "States.TaskFailed: the task failed"},
        ),
        (
            None,
            {"Error": "States.Unknown", "Cause": "States.Unknown: Step Functions gave no cause"},
            {"Error": "Release.Unknown", "Cause": "States.Unknown: Step Functions gave no cause"},
        ),
    ],
)
def test_the_caught_error_always_has_a_cause_and_fails_under_a_name_a_fail_state_may_carry(
    caught: Any, error: dict[str, str], failure: dict[str, str]
) -> None:
    """"The error names cannot begin with the States. prefix" (Step Functions developer
    guide, "Error names"): ReleaseFailed, a Fail state, ends the execution with `failure`."""
    assert rollback.caught_error(caught) == error
    assert rollback.failure(error) == failure

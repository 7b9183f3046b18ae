from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from moto.codedeploy.models import codedeploy_backends
from moto.core import DEFAULT_ACCOUNT_ID

from serverless_pipeline.handlers import promote, records, rollback
from serverless_pipeline.handlers.errors import (
    ChecksumMismatch,
    ConfigurationError,
    DeploymentFailed,
    DeploymentInProgress,
    DeploymentTimedOut,
    InvalidEvent,
    RecordConflict,
)
from tests.handlers.conftest import REGION, Account, app_files, build_zip, target


def start(release: dict[str, str], environment: str = "staging", execution: str = "e1") -> Any:
    return promote.handler(
        {"action": "start", "environment": environment, "release": release, "execution": execution},
        None,
    )


def status(release: dict[str, str], environment: str = "staging", execution: str = "e1") -> Any:
    return promote.handler(
        {
            "action": "status",
            "environment": environment,
            "release": release,
            "execution": execution,
        },
        None,
    )


def test_start_publishes_a_version_and_deploys_it_through_codedeploy(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    report = start(release)
    assert report["status"] == "InProgress"
    deployed = report["functions"]["app"]
    assert (deployed["previous_version"], deployed["target_version"]) == ("1", "2")
    configuration = account.lam.get_function_configuration(
        FunctionName="app-staging", Qualifier="2"
    )
    assert configuration["Description"] == "release r2"
    stored = account.s3.head_object(Bucket="app-staging-releases", Key="releases/r2/app.zip")
    assert stored["Metadata"]["sha256"] == release["sha256"]
    deployment = account.codedeploy.get_deployment(deploymentId=deployed["deployment_id"])
    appspec = json.loads(deployment["deploymentInfo"]["revision"]["appSpecContent"]["content"])
    assert appspec["Resources"][0]["app-staging"]["Properties"] == {
        "Name": "app-staging",
        "Alias": "live",
        "CurrentVersion": "1",
        "TargetVersion": "2",
    }
    assert status(release)["status"] == "Succeeded"
    assert account.live_version("staging") == "2"
    assert account.live_version("production") == "1"


def test_the_record_of_what_was_live_is_written_before_anything_changes(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    start(release)
    record = records.read_deployment(account.s3, target(), "e1")
    assert record is not None
    assert record.previous_version == "1" and record.previous_release == "r1"
    assert record.state == "deploying" and record.deployment_id


def test_a_stored_record_in_an_unknown_state_is_named(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    start(release)
    key = records.key("e1", "staging", "app")
    stored = records.load(account.s3, "app-staging-releases", key)
    assert stored is not None
    changed = {**stored[0], "state": "halfway"}
    records.save(account.s3, "app-staging-releases", key, changed, etag=stored[1])
    with pytest.raises(ConfigurationError, match="has state 'halfway'"):
        status(release)


def test_a_stored_record_that_is_not_a_deployment_record_is_named(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    key = records.key("e1", "staging", "app")
    records.save(account.s3, "app-staging-releases", key, {"state": "deploying"}, etag=None)
    with pytest.raises(
        ConfigurationError, match="executions/e1/staging/app.json is not a deployment"
    ):
        start(release)


def test_start_refuses_while_the_group_has_a_deployment_in_progress(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    running = account.codedeploy.create_deployment(
        applicationName="app",
        deploymentGroupName="app-staging",
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}},
    )["deploymentId"]
    with pytest.raises(DeploymentInProgress, match=running):
        start(release)
    assert account.live_version("staging") == "1"
    assert records.read_deployment(account.s3, target(), "e1") is None
    versions = account.lam.list_versions_by_function(FunctionName="app-staging")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]


def test_a_retried_start_does_not_deploy_twice(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    first = start(release)
    second = start(release)
    assert second["functions"] == first["functions"]
    assert len(account.codedeploy.list_deployments()["deployments"]) == 1


def test_a_failed_deployment_raises_with_codedeploys_reason(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    report = start(release)
    account.codedeploy.stop_deployment(deploymentId=report["functions"]["app"]["deployment_id"])
    with pytest.raises(DeploymentFailed, match="ended Stopped: DEPLOYMENT_STOPPED"):
        status(release)
    assert account.live_version("staging") == "1"


def test_a_deployment_past_its_deadline_times_out(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    start(release)
    record = records.read_deployment(account.s3, target(), "e1")
    assert record is not None
    record.deadline = int(time.time()) - 1
    records.write_deployment(account.s3, target(), "e1", record)
    # A canary still shifting: the emulator would otherwise settle it on first read.
    backend = codedeploy_backends[DEFAULT_ACCOUNT_ID][REGION]
    backend.deployments[record.deployment_id].status = "InProgress"
    with pytest.raises(DeploymentTimedOut, match="past its deadline: .* is still InProgress"):
        status(release)


def test_a_tampered_artifact_changes_nothing(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    release["sha256"] = "0" * 64
    with pytest.raises(ChecksumMismatch):
        start(release)
    assert account.live_version("staging") == "1"
    assert records.read_deployment(account.s3, target(), "e1") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"action": "deploy"},
            "action is 'deploy'; expected one of claim, gate, start, status, bake",
        ),
        ({"environment": "qa"}, "environment is 'qa'; expected one of staging, production"),
        ({"execution": "has spaces"}, "execution is 'has spaces'"),
        ({"release": "r2"}, "release must be a JSON object"),
    ],
)
def test_malformed_events_are_refused(
    account: Account, change: dict[str, Any], message: str
) -> None:
    release = account.upload("r2", build_zip(app_files()))
    event = {
        "action": "start",
        "environment": "staging",
        "release": release,
        "execution": "e1",
        **change,
    }
    with pytest.raises(InvalidEvent, match=message):
        promote.handler(event, None)
    assert account.live_version("staging") == "1"


def test_status_of_a_deployment_this_execution_never_started_is_refused(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    with pytest.raises(
        InvalidEvent, match="started no deployment of release r2 to app in production"
    ):
        status(release, environment="production")


def test_an_alarm_during_the_shift_fails_the_deployment_and_restores_the_alias(
    account: Account,
) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName="app-staging-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[
            {"Name": "FunctionName", "Value": "app-staging"},
            {"Name": "Resource", "Value": "app-staging:live"},
        ],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    backend = codedeploy_backends[DEFAULT_ACCOUNT_ID][REGION]
    backend.deployment_groups["app"]["app-staging"].alarm_configuration = {
        "enabled": True,
        "alarms": [{"name": "app-staging-errors"}],
    }

    def users(account_id: str, region: str, function_name: str, alias: str) -> None:
        account.lam.invoke(
            FunctionName=function_name,
            Qualifier=alias,
            Payload=json.dumps({"fail": "boom"}).encode(),
        )

    account.deployments.traffic = users
    release = account.upload("r2", build_zip(app_files()))
    start(release)
    fired = "Failed: ALARM_ACTIVE alarm\\(s\\) app-staging-errors went off"
    with pytest.raises(DeploymentFailed, match=fired):
        status(release)
    assert account.live_version("staging") == "1"
    state = cloudwatch.describe_alarms(AlarmNames=["app-staging-errors"])["MetricAlarms"][0]
    assert state["StateValue"] == "ALARM"
    # CodeDeploy already moved the alias back: Rollback finds nothing more to undo.
    report = rollback.handler({"release": release, "execution": "e1"}, None)
    assert report["environments"]["staging"]["app"]["action"] == "already_restored"
    assert report["environments"]["production"] == {"app": {"action": "untouched"}}


def test_a_start_that_died_after_starting_its_deployment_adopts_it_when_retried(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler dies (a crash, a timeout) between CreateDeployment and writing its record.
    release = account.upload("r2", build_zip(app_files()))
    write = records.write_deployment

    def dies_when_deploying(s3: Any, target: Any, execution: str, record: Any) -> None:
        if record.state == "deploying":
            raise RuntimeError("the handler died here")
        write(s3, target, execution, record)

    monkeypatch.setattr(records, "write_deployment", dies_when_deploying)
    with pytest.raises(RuntimeError, match="died here"):
        start(release)
    monkeypatch.setattr(records, "write_deployment", write)
    (running,) = account.codedeploy.list_deployments()["deployments"]
    retried = start(release)
    assert retried["functions"]["app"]["deployment_id"] == running
    assert retried["functions"]["app"]["target_version"] == "2"
    assert status(release)["status"] == "Succeeded"
    assert account.live_version("staging") == "2"
    assert account.codedeploy.list_deployments()["deployments"] == [running]


def test_records_are_written_conditionally(account: Account) -> None:
    # S3 conditional writes (PutObject If-Match / If-None-Match): a writer holding a stale
    # version cannot overwrite a newer one.
    release = account.upload("r2", build_zip(app_files()))
    start(release)
    first = records.read_deployment(account.s3, target(), "e1")
    second = records.read_deployment(account.s3, target(), "e1")
    assert first is not None and second is not None
    first.state = "deployed"
    records.write_deployment(account.s3, target(), "e1", first)
    second.state = "rolled_back"
    with pytest.raises(RecordConflict, match="another writer came first"):
        records.write_deployment(account.s3, target(), "e1", second)
    stored = records.read_deployment(account.s3, target(), "e1")
    assert stored is not None and stored.state == "deployed"
    fresh = records.DeploymentRecord(**{**stored.to_json(), "state": "started"})
    with pytest.raises(RecordConflict):
        records.write_deployment(account.s3, target(), "e1", fresh)  # not read: create only

from __future__ import annotations

import json

import pytest

from serverless_pipeline.handlers import promote, traffic_hook
from serverless_pipeline.handlers.errors import InvalidEvent
from tests.handlers.conftest import MANIFEST, Account, app_files, build_zip

SMOKE = {
    "name": "greets",
    "event": {"name": "x"},
    "expected": {"greeting": "hello from staging x"},
    "stages": ["smoke"],
}


def started(account: Account, manifest: object) -> str:
    release = account.upload("r2", build_zip(app_files(manifest=manifest)))
    report = promote.handler(
        {"action": "start", "environment": "staging", "release": release, "execution": "e1"}, None
    )
    return str(report["functions"]["app"]["deployment_id"])


def test_smoke_cases_pass_against_the_target_version(account: Account) -> None:
    deployment = started(account, {"cases": [*MANIFEST["cases"], SMOKE]})
    report = traffic_hook.handler(
        {"DeploymentId": deployment, "LifecycleEventHookExecutionId": "h1"}, None
    )
    assert (report["status"], report["cases"], report["failures"]) == ("Succeeded", 1, [])


def test_a_failing_smoke_case_fails_the_hook(account: Account) -> None:
    failing = {**SMOKE, "expected": {"greeting": "something else"}}
    deployment = started(account, {"cases": [*MANIFEST["cases"], failing]})
    report = traffic_hook.handler(
        {"DeploymentId": deployment, "LifecycleEventHookExecutionId": "h1"}, None
    )
    assert report["status"] == "Failed"
    assert report["failures"][0].startswith("greets: expected")


def test_an_unknown_deployment_is_reported_failed(account: Account) -> None:
    report = traffic_hook.handler(
        {"DeploymentId": "d-none", "LifecycleEventHookExecutionId": "h1"}, None
    )
    assert report["status"] == "Failed" and report["cases"] == 0


def test_an_event_that_is_not_codedeploys_is_refused(account: Account) -> None:
    with pytest.raises(InvalidEvent, match="DeploymentId and LifecycleEventHookExecutionId"):
        traffic_hook.handler({"DeploymentId": 3}, None)


class NearlyOutOfTime:
    """A Lambda context with less time left than reporting needs."""

    def get_remaining_time_in_millis(self) -> int:
        return (traffic_hook.REPORT_MARGIN_SECONDS - 1) * 1000


def test_a_hook_running_out_of_time_reports_failed_instead_of_dying(account: Account) -> None:
    # A hook killed by its own timeout never reports: CodeDeploy would wait out its hour.
    deployment = started(account, {"cases": [*MANIFEST["cases"], SMOKE]})
    report = traffic_hook.handler(
        {"DeploymentId": deployment, "LifecycleEventHookExecutionId": "h1"}, NearlyOutOfTime()
    )
    assert (report["status"], report["cases"]) == ("Failed", 0)
    assert report["failures"] == ["ran out of time after 0 of 1 smoke cases"]


def test_a_target_version_the_pipeline_did_not_publish_fails_the_hook(account: Account) -> None:
    # The release comes from the version promote published ("release <id>"); a version
    # published by anyone else carries none, and the hook reports Failed instead of guessing.
    account.lam.update_function_code(FunctionName="app-staging", ZipFile=build_zip(app_files()))
    version = account.lam.publish_version(FunctionName="app-staging", Description="by hand")
    spec = {
        "version": 0.0,
        "Resources": [
            {
                "app": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": "app-staging",
                        "Alias": "live",
                        "CurrentVersion": "1",
                        "TargetVersion": version["Version"],
                    },
                }
            }
        ],
    }
    deployment = account.codedeploy.create_deployment(
        applicationName="app",
        deploymentGroupName="app-staging",
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": json.dumps(spec)},
        },
    )["deploymentId"]
    report = traffic_hook.handler(
        {"DeploymentId": deployment, "LifecycleEventHookExecutionId": "h1"}, None
    )
    assert report["status"] == "Failed"
    assert report["failures"] == [
        f"InvalidEvent: app-staging:{version['Version']} carries no release"
    ]

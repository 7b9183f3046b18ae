"""One execution at a time changes environments: a second one, started beside the QUEUED
pipeline, refuses before it changes anything (ClaimPipeline), with a named error; the claim is
kept until nothing can roll back any more (the last environment's bake); and a holder that
ended without its cleanup is cleaned up by the next claim."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from serverless_pipeline.emulator.cloudwatch import alarm_history
from serverless_pipeline.handlers import promote, records, rollback
from serverless_pipeline.handlers.errors import ExecutionInProgress, InvalidEvent
from tests.handlers.conftest import (
    REGION,
    Account,
    app_files,
    build_zip,
    create_alarms,
    inbox,
    target,
)

CLAIMS = "app-staging-releases"


def executions(names: list[str], release: dict[str, str] | None = None) -> dict[str, str]:
    """Executions of a state machine in moto, which leaves them RUNNING: name -> ARN. Their
    input names `release`, as the pipeline's does."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="app-deployment",
        definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/app",
    )["stateMachineArn"]
    document = json.dumps({"release": release} if release else {})
    return {
        name: sfn.start_execution(stateMachineArn=machine, name=name, input=document)[
            "executionArn"
        ]
        for name in names
    }


def claim(release: dict[str, str], execution: str, arn: str) -> Any:
    event = {"action": "claim", "release": release, "execution": execution, "execution_arn": arn}
    return promote.handler(event, None)


def test_a_second_execution_refuses_while_the_first_runs(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    arns = executions(["e1", "e2"])
    assert claim(release, "e1", arns["e1"])["claimed"] is True
    assert claim(release, "e1", arns["e1"])["claimed"] is True  # a retry of its own claim
    with pytest.raises(ExecutionInProgress, match="execution e1 is running and holds the pipeline"):
        claim(release, "e2", arns["e2"])
    # Its own Rollback restored and released: the second one goes.
    boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=arns["e1"])
    rollback.handler({"release": release, "execution": "e1"}, None)
    assert claim(release, "e2", arns["e2"])["claimed"] is True
    held = records.load(account.s3, CLAIMS, records.CLAIM_KEY)
    assert held is not None and held[0] == {"execution": "e2", "state": "held"}


def test_a_holder_that_ended_without_its_cleanup_is_restored_by_the_next_claim(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Step Functions' status changes reach EventBridge at best effort (EventBridge events
    # reference, "AWS Step Functions events": Step Functions Execution Status Change,
    # "Delivery type: Best effort"; docs.aws.amazon.com/eventbridge/latest/ref/
    # events-ref-states.html): the one that would run the cleanup rule after e1 was stopped
    # never comes. e2's claim restores what e1 touched, with the cleanup's own code, and
    # subscribers hear it as from the cleanup.
    heard = inbox(monkeypatch)
    r1_version = account.live_version("staging")
    r2 = account.upload("r2", build_zip({**app_files(), "extra.py": "X = 2\n"}))
    arns = executions(["e1", "e2"], r2)
    claim(r2, "e1", arns["e1"])
    staging = {"environment": "staging", "release": r2, "execution": "e1"}
    promote.handler({**staging, "action": "start"}, None)
    promote.handler({**staging, "action": "status"}, None)
    assert account.live_version("staging") != r1_version
    boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=arns["e1"])
    assert claim(r2, "e2", arns["e2"])["claimed"] is True
    assert account.live_version("staging") == r1_version
    record = records.read_deployment(account.s3, target("staging"), "e1")
    assert record is not None and record.state == "rolled_back"
    held = records.load(account.s3, CLAIMS, records.CLAIM_KEY)
    assert held is not None and held[0] == {"execution": "e2", "state": "held"}
    (message,) = heard()
    assert (message["execution"], message["status"], message["release"]) == ("e1", "ABORTED", "r2")
    assert message["restored"] == {"staging": ["app"]}
    # The event arrives after all: e1 no longer holds the pipeline, so it touches nothing.
    late = rollback.handler(status_change(r2, "e1", "ABORTED"), None)
    assert late["environments"] == {}


def test_a_holder_whose_restore_fails_keeps_the_pipeline(account: Account) -> None:
    # The restore cannot finish (e1's function is gone): e2 refuses with ExecutionInProgress,
    # which ClaimPipeline retries, and says why.
    r2 = account.upload("r2", build_zip({**app_files(), "extra.py": "X = 2\n"}))
    arns = executions(["e1", "e2"], r2)
    claim(r2, "e1", arns["e1"])
    staging = {"environment": "staging", "release": r2, "execution": "e1"}
    promote.handler({**staging, "action": "start"}, None)
    boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=arns["e1"])
    account.lam.delete_function(FunctionName=account.function_name("staging"))
    with pytest.raises(ExecutionInProgress, match="e1 ended ABORTED without its cleanup, and "):
        claim(r2, "e2", arns["e2"])
    held = records.load(account.s3, CLAIMS, records.CLAIM_KEY)
    assert held is not None and held[0] == {"execution": "e1", "state": "held"}


def test_a_holder_that_succeeded_is_taken_over(account: Account) -> None:
    # A release that went live everywhere left nothing to restore, even if it died before it
    # released the pipeline.
    def never(holder: str, status: str) -> None:
        raise AssertionError(f"{holder} ended {status}: nothing to clean up")

    records.claim(account.s3, CLAIMS, "e1", lambda name: "RUNNING", never)
    records.claim(account.s3, CLAIMS, "e2", lambda name: "SUCCEEDED", never)
    held = records.load(account.s3, CLAIMS, records.CLAIM_KEY)
    assert held is not None and held[0]["execution"] == "e2"


def test_the_last_environments_success_releases_the_pipeline(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    arns = executions(["e1"])
    claim(release, "e1", arns["e1"])
    for environment in ("staging", "production"):
        event = {"environment": environment, "release": release, "execution": "e1"}
        promote.handler({**event, "action": "start"}, None)
        promote.handler({**event, "action": "status"}, None)
    held = records.load(account.s3, CLAIMS, records.CLAIM_KEY)
    assert held is not None and held[0] == {"execution": "e1", "state": "released"}


def test_the_pipeline_is_kept_through_the_last_bake(account: Account) -> None:
    # Where production bakes, the definition says its deployment does not end what the
    # execution changes (release_claim false) and its bake's check does: a BakeAlarm there
    # still rolls back every environment, which no other execution may be deploying by then.
    create_alarms(account, ("production",))
    release = account.upload("r2", build_zip({**app_files(), "extra.py": "X = 2\n"}))
    arns = executions(["e1", "e2"], release)
    claim(release, "e1", arns["e1"])
    for environment in ("staging", "production"):
        event = {"environment": environment, "release": release, "execution": "e1"}
        deploying = {**event, "release_claim": False}
        if promote.handler({**deploying, "action": "start"}, None)["status"] != "Succeeded":
            promote.handler({**deploying, "action": "status"}, None)
    with pytest.raises(ExecutionInProgress, match="execution e1 is running and holds"):
        claim(release, "e2", arns["e2"])
    baked = {**event, "action": "bake", "bake_seconds": 600}
    with pytest.raises(InvalidEvent, match="release_claim is 'yes'; expected true or false"):
        promote.handler({**baked, "release_claim": "yes"}, None)
    with alarm_history():
        assert promote.handler({**baked, "release_claim": True}, None) == {"alarms": 2}
    held = records.load(account.s3, CLAIMS, records.CLAIM_KEY)
    assert held is not None and held[0] == {"execution": "e1", "state": "released"}
    assert claim(release, "e2", arns["e2"])["claimed"] is True


def status_change(release: dict[str, str], execution: str, status: str) -> dict[str, Any]:
    return {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {"name": execution, "status": status, "input": json.dumps({"release": release})},
    }


def test_a_late_cleanup_never_touches_what_the_next_execution_deploys(account: Account) -> None:
    # A failed and its own Rollback restored and released; B claimed and is deploying when A's
    # status change reaches the cleanup (EventBridge and Lambda deliver it more than once).
    r2 = account.upload("r2", build_zip(app_files()))
    r3 = account.upload("r3", build_zip({**app_files(), "extra.py": "X = 3\n"}))
    arns = executions(["e1", "e2"])
    staging = {"environment": "staging", "action": "start"}
    claim(r2, "e1", arns["e1"])
    promote.handler({**staging, "release": r2, "execution": "e1"}, None)
    promote.handler({**staging, "action": "status", "release": r2, "execution": "e1"}, None)
    rollback.handler({"release": r2, "execution": "e1"}, None)
    claim(r3, "e2", arns["e2"])
    started = promote.handler({**staging, "release": r3, "execution": "e2"}, None)
    late = rollback.handler(status_change(r2, "e1", "FAILED"), None)
    assert late["environments"] == {}
    done = promote.handler({**staging, "action": "status", "release": r3, "execution": "e2"}, None)
    assert done["status"] == "Succeeded"
    assert account.live_version("staging") == started["functions"]["app"]["target_version"]


def test_a_release_of_unchanged_code_releases_the_pipeline_too(account: Account) -> None:
    # Its last start finds the release live already: no status check follows it.
    release = account.upload("r2", build_zip(app_files()))
    arns = executions(["e1", "e2"])
    for execution in ("e1", "e2"):
        claim(release, execution, arns[execution])
        for environment in ("staging", "production"):
            event = {"environment": environment, "release": release, "execution": execution}
            if promote.handler({**event, "action": "start"}, None)["status"] != "Succeeded":
                promote.handler({**event, "action": "status"}, None)
        held = records.load(account.s3, CLAIMS, records.CLAIM_KEY)
        assert held is not None and held[0] == {"execution": execution, "state": "released"}

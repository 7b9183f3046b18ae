"""One execution at a time changes environments: a second one, started beside the QUEUED
pipeline, refuses before it changes anything (ClaimPipeline), with a named error."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from serverless_pipeline.handlers import promote, records, rollback
from serverless_pipeline.handlers.errors import ExecutionInProgress
from tests.handlers.conftest import REGION, Account, app_files, build_zip

CLAIMS = "app-staging-releases"


def executions(names: list[str]) -> dict[str, str]:
    """Executions of a state machine in moto, which leaves them RUNNING: name -> ARN."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="app-deployment",
        definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/app",
    )["stateMachineArn"]
    return {
        name: sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
        for name in names
    }


def claim(release: dict[str, str], execution: str, arn: str) -> Any:
    event = {"action": "claim", "release": release, "execution": execution, "execution_arn": arn}
    return promote.handler(event, None)


def test_a_second_execution_refuses_while_the_first_runs_and_until_it_is_rolled_back(
    account: Account,
) -> None:
    release = account.upload("r2", build_zip(app_files()))
    arns = executions(["e1", "e2"])
    assert claim(release, "e1", arns["e1"])["claimed"] is True
    assert claim(release, "e1", arns["e1"])["claimed"] is True  # a retry of its own claim
    with pytest.raises(ExecutionInProgress, match="execution e1 is running and holds the pipeline"):
        claim(release, "e2", arns["e2"])
    # The first one is stopped: until its rollback has restored what it touched, the second
    # still refuses, and says what to do if the cleanup failed.
    boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=arns["e1"])
    with pytest.raises(ExecutionInProgress, match="e1 ended ABORTED and its rollback has not"):
        claim(release, "e2", arns["e2"])
    rollback.handler({"release": release, "execution": "e1"}, None)
    assert claim(release, "e2", arns["e2"])["claimed"] is True
    held = records.load(account.s3, CLAIMS, records.CLAIM_KEY)
    assert held is not None and held[0] == {"execution": "e2", "state": "held"}


def test_a_holder_that_succeeded_is_taken_over(account: Account) -> None:
    # A release that went live everywhere left nothing to restore, even if it died before it
    # released the pipeline.
    records.claim(account.s3, CLAIMS, "e1", lambda name: "RUNNING")
    records.claim(account.s3, CLAIMS, "e2", lambda name: "SUCCEEDED")
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

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.core.config import default_user_config

from serverless_pipeline.handlers import approval
from serverless_pipeline.handlers.errors import ApprovalMismatch, ConfigurationError, InvalidEvent
from tests.handlers.conftest import REGION, Account, app_files, build_zip

BUCKET = "app-production-releases"


@pytest.fixture
def topic(account: Account, monkeypatch: pytest.MonkeyPatch) -> Any:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    arn = sns.create_topic(Name="app-releases")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", arn)
    return lambda: [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    ]


def request(account: Account, release_id: str = "r3") -> dict[str, str]:
    release = account.upload(release_id, build_zip(app_files()))
    approval.handler(
        {"action": "request", "release": release, "execution": "e1", "token": "token-1"}, None
    )
    return release


def test_a_request_records_the_token_and_tells_how_to_answer(account: Account, topic: Any) -> None:
    request(account)
    record = json.loads(
        account.s3.get_object(Bucket=BUCKET, Key="approvals/e1.json")["Body"].read()
    )
    assert (record["release_id"], record["token"], record["state"]) == ("r3", "token-1", "waiting")
    (message,) = topic()
    assert message["outcome"] == "waiting_for_approval" and message["release"] == "r3"
    assert (
        '"release_id": "r3", "execution": "e1", "environment": "production"' in message["approve"]
    )


def test_an_approval_for_another_release_cannot_promote_this_one(
    account: Account, topic: Any
) -> None:
    request(account, "r3")
    with pytest.raises(ApprovalMismatch, match="waits for release r3, not r2"):
        approval.handler({"action": "approve", "release_id": "r2", "execution": "e1"}, None)
    record = json.loads(
        account.s3.get_object(Bucket=BUCKET, Key="approvals/e1.json")["Body"].read()
    )
    assert record["state"] == "waiting"


def test_an_approval_opens_only_the_gate_it_names(account: Account, topic: Any) -> None:
    # A release waits before staging, then before production: re-running the command from the
    # staging gate's message must not open production's.
    release = account.upload("r3", build_zip(app_files()))
    approval.handler(
        {
            "action": "request",
            "release": release,
            "execution": "e1",
            "token": "token-1",
            "environment": "staging",
        },
        None,
    )
    (message,) = topic()
    assert message["environment"] == "staging"
    assert "no environment serves it yet" in message["changed"]
    approval.handler(
        {"action": "request", "release": release, "execution": "e1", "token": "t2"}, None
    )
    answer = {"action": "approve", "release_id": "r3", "execution": "e1"}
    with pytest.raises(
        ApprovalMismatch, match="waits for an approval before production, not 'staging'"
    ):
        approval.handler({**answer, "environment": "staging"}, None)
    with pytest.raises(ApprovalMismatch, match="not None"):
        approval.handler(answer, None)
    record = json.loads(
        account.s3.get_object(Bucket=BUCKET, Key="approvals/e1.json")["Body"].read()
    )
    assert (record["environment"], record["state"]) == ("production", "waiting")


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_an_answer_to_a_wait_that_already_ended_is_a_named_error(
    account: Account, topic: Any, action: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token no execution waits on any more (the wait timed out or the execution stopped):
    # moto's Step Functions interpreter, like AWS, answers InvalidToken. No record changes.
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    request(account, "r3")
    with pytest.raises(InvalidEvent, match="execution e1 no longer waits for an approval"):
        approval.handler(
            {"action": action, "release_id": "r3", "execution": "e1", "environment": "production"},
            None,
        )
    record = json.loads(
        account.s3.get_object(Bucket=BUCKET, Key="approvals/e1.json")["Body"].read()
    )
    assert record["state"] == "waiting"


def test_an_answer_without_a_pending_request_is_refused(account: Account, topic: Any) -> None:
    with pytest.raises(InvalidEvent, match="execution e9 is not waiting for an approval"):
        approval.handler({"action": "reject", "release_id": "r3", "execution": "e9"}, None)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"action": "maybe"}, "action is 'maybe'; expected one of request, approve, reject"),
        ({"action": "approve", "release_id": "../r3", "execution": "e1"}, "release_id is '../r3'"),
        ({"action": "request", "execution": "e1", "token": "t"}, "release is missing"),
    ],
)
def test_malformed_events_are_refused(
    account: Account, topic: Any, event: Any, message: str
) -> None:
    with pytest.raises(InvalidEvent, match=message):
        approval.handler(event, None)


def test_a_missing_topic_is_a_configuration_error(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFICATION_TOPIC_ARN", raising=False)
    with pytest.raises(ConfigurationError, match="NOTIFICATION_TOPIC_ARN is not set"):
        request(account)

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from serverless_pipeline import ConfigurationError, ConnectionSource, Subscriber
from tests.conftest import one, referenced_statements, resources, synth_config
from tests.single_function_config import single_function_config

CONNECTION = "arn:aws:codeconnections:eu-west-1:123456789012:connection/abc-123"


def test_the_topic_is_encrypted_and_tls_only(single: dict[str, Any]) -> None:
    topic = one(single, "aws_sns_topic", "notifications_topic")
    assert topic["name"] == "orders-releases"
    assert topic["kms_master_key_id"].startswith("${aws_kms_key.")
    policy = one(single, "aws_sns_topic_policy", "notifications_policy")
    statements = {s["sid"]: s for s in referenced_statements(single, policy["policy"])}
    deny = statements["DenyInsecureTransport"]
    assert deny["effect"] == "Deny" and deny["condition"][0]["variable"] == "aws:SecureTransport"
    alarms = statements["CloudWatchAlarmsOfThisAccountPublish"]
    assert alarms["condition"][0]["variable"] == "aws:SourceAccount"


def test_subscribers_come_from_config_and_bad_ones_are_refused() -> None:
    config = dataclasses.replace(
        single_function_config(),
        subscribers=(
            Subscriber("email", "oncall@example.com"),
            Subscriber("https", "https://chat.example.com/hooks/releases"),
        ),
    )
    subscriptions = resources(synth_config(config), "aws_sns_topic_subscription").values()
    assert sorted((s["protocol"], s["endpoint"]) for s in subscriptions) == [
        ("email", "oncall@example.com"),
        ("https", "https://chat.example.com/hooks/releases"),
    ]
    bad = dataclasses.replace(
        single_function_config(),
        subscribers=(
            Subscriber("email", "not-an-address"),
            Subscriber("pager", "123"),
            Subscriber("https", "http://insecure.example.com"),
        ),
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(bad)
    assert raised.value.problems == [
        "subscribers[0].endpoint is 'not-an-address'; expected an email address",
        "subscribers[1].protocol is 'pager'; expected one of email, email-json, https, sqs, lambda",
        "subscribers[2].endpoint is 'http://insecure.example.com'; expected an https:// URL "
        "(chat webhooks, incident tools)",
    ]


TOPIC = "${aws_sns_topic.pipeline_notifications_topic_6B8C7CDC.arn}"


def test_executions_that_end_badly_alarm_to_the_topic(single: dict[str, Any]) -> None:
    alarms = {
        a["alarm_name"]: a
        for a in resources(single, "aws_cloudwatch_metric_alarm").values()
        if a["namespace"] == "AWS/States"
    }
    assert sorted(alarms) == [
        "orders-deployment-aborted",
        "orders-deployment-failed",
        "orders-deployment-timedout",
    ]
    for name, alarm in alarms.items():
        assert alarm["dimensions"]["StateMachineArn"].endswith(":stateMachine:orders-deployment")
        # A failed execution announced itself (NotifyRolledBack or NotifyRollbackFailed): its
        # alarm stays on the dashboard and sends nothing, so an outcome is one message.
        expected = None if name.endswith("-failed") else [TOPIC]
        assert alarm.get("alarm_actions") == expected, name


def test_the_dashboard_shows_releases_durations_deployments_and_alarms(
    single: dict[str, Any],
) -> None:
    dashboard = one(single, "aws_cloudwatch_dashboard", "monitoring_dashboard")
    assert dashboard["dashboard_name"] == "orders-deployment-releases"
    widgets = json.loads(dashboard["dashboard_body"])["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert titles == [
        "Releases by outcome",
        "Release duration (ms)",
        "Time in each state's handler (ms)",
        "Traffic and errors through the live aliases",
        "Alarms",
    ]
    outcomes = [m[1] for m in widgets[0]["properties"]["metrics"]]
    assert outcomes == [
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    ]
    assert len(widgets[2]["properties"]["metrics"]) == 5
    assert len(widgets[4]["properties"]["alarms"]) == 7


def test_a_connection_source_triggers_on_its_branch_and_paths() -> None:
    config = dataclasses.replace(
        single_function_config(),
        source=ConnectionSource(
            CONNECTION,
            "acme/orders",
            "release",
            file_paths=("src/**",),
            excluded_file_paths=("docs/**",),
        ),
    )
    pipeline = one(synth_config(config), "aws_codepipeline", "pipeline")
    (trigger,) = pipeline["trigger"]
    assert trigger["provider_type"] == "CodeStarSourceConnection"
    git = trigger["git_configuration"]
    assert git["source_action_name"] == "Source"
    assert git["push"] == [
        {
            "branches": {"includes": ["release"]},
            "file_paths": {"excludes": ["docs/**"], "includes": ["src/**"]},
        }
    ]


def test_too_many_or_malformed_path_filters_are_refused() -> None:
    config = dataclasses.replace(
        single_function_config(),
        source=ConnectionSource(
            CONNECTION,
            "acme/orders",
            file_paths=tuple(f"p{i}/**" for i in range(9)),
            excluded_file_paths=("has space",),
        ),
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    assert raised.value.problems == [
        "source.file_paths has 9 patterns; CodePipeline accepts at most 8",
        "source.excluded_file_paths item is 'has space'; expected a glob such as src/** "
        "(no spaces)",
    ]

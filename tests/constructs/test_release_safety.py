"""Release safety: bake time, alarm blockers, deployment windows and stop the line, as
synthesized."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from serverless_pipeline.application_settings import DeploymentWindow
from serverless_pipeline.example import example_config, multi_account_config
from serverless_pipeline.validation import ConfigurationError
from tests.conftest import definition, one, policy_statements, resources, statement, synth_config

CALENDAR = "orders-change-freeze"


def windowed_config() -> Any:
    """The example with production deployable on weekdays 09:00-16:00 in Berlin, outside the
    freezes of a Change Calendar."""
    config = example_config()
    staging, production = config.environments or ()
    window = DeploymentWindow(
        start="09:00",
        end="16:00",
        time_zone="Europe/Berlin",
        change_calendar=CALENDAR,
        days=("Mon", "Tue", "Wed", "Thu", "Fri"),
        max_wait_minutes=4320,
    )
    return replace(config, environments=(staging, replace(production, deployment_window=window)))


@pytest.fixture(scope="module")
def windowed() -> dict[str, Any]:
    return synth_config(windowed_config())


def test_every_environment_passes_its_gates_before_it_is_touched(
    example: dict[str, Any],
) -> None:
    states = definition(example)["States"]
    for title in ("Staging", "Production"):
        assert states[f"Start{title}Gates"]["Next"] == f"Check{title}Gates"
        check = states[f"Check{title}Gates"]
        assert check["Parameters"]["Payload"]["action"] == "gate"
        assert check["Catch"][0]["Next"] == "Rollback"
        choice = states[f"{title}GatesOpen"]
        assert choice["Choices"][0]["Next"] == f"Deploy{title}"
        # Waiting costs one Wait per look, as long as the gate says: no busy polling.
        assert states[f"WaitFor{title}Gates"][
            "SecondsPath"
        ] == f"$.gate_{title.lower()}.since".replace("since", "wait_seconds")
    assert states["RunTests"]["Next"] == "StartStagingGates"
    assert states["ApprovalRequired"]["Default"] == "StartProductionGates"


def test_production_bakes_for_its_minutes_under_watch(example: dict[str, Any]) -> None:
    states = definition(example)["States"]
    # The example's production bakes 10 minutes; staging does not bake.
    assert states["ProductionDeployed"]["Choices"][0]["Next"] == "BakeProduction"
    assert states["BakeProduction"] == {
        "Type": "Wait",
        "Comment": states["BakeProduction"]["Comment"],
        "Seconds": 600,
        "Next": "CheckProductionBake",
    }
    assert states["CheckProductionBake"]["Parameters"]["Payload"]["bake_seconds"] == 600
    assert states["CheckProductionBake"]["Next"] == "NotifyPromoted"
    assert "BakeStaging" not in states
    assert states["StagingDeployed"]["Choices"][0]["Next"] == "RunTestsInStaging"


def test_the_time_limit_counts_the_gates() -> None:
    # The bake, the window's longest wait and the line's are all part of how long a release
    # may take; the 7-day check refuses what does not fit.
    plain = json.loads(
        one(synth_config(example_config()), "aws_sfn_state_machine", "state")["definition"]
    )["TimeoutSeconds"]
    waiting = definition(synth_config(windowed_config()))["TimeoutSeconds"]
    assert waiting - plain == 4320 * 60
    too_long = replace(windowed_config(), line_wait_minutes=4320, deployment_timeout_seconds=86400)
    with pytest.raises(ConfigurationError, match="7-day action timeout"):
        synth_config(
            replace(
                too_long,
                approval_timeout_seconds=None,
                environments=tuple(
                    replace(e, approval_timeout_seconds=86400 * 2)
                    for e in too_long.environments or ()
                ),
            )
        )


def test_one_switch_stops_the_line(example: dict[str, Any]) -> None:
    # Service Authorization Reference, AWS Systems Manager: GetParameter acts on the parameter
    # resource type, arn:...:ssm:<region>:<account>:parameter/<name without its leading />.
    (switch,) = resources(example, "aws_ssm_parameter").values()
    assert (switch["name"], switch["type"], switch["value"]) == (
        "/orders/release-line",
        "String",
        "open",
    )
    # Terraform leaves the switch to the people who stop and open the line.
    assert switch["lifecycle"]["ignore_changes"] == ["value"]
    promote = policy_statements(example, "pipeline_handlers_promote_role")
    read = statement(promote, "ReadLineSwitch")
    assert read["actions"] == ["ssm:GetParameter"]
    (arn,) = read["resources"]
    assert arn.endswith(":parameter/orders/release-line")


def test_promote_reads_exactly_the_environments_alarms(example: dict[str, Any]) -> None:
    # cloudwatch:DescribeAlarms and DescribeAlarmHistory take alarm ARNs (service
    # authorization reference for Amazon CloudWatch: resource type alarm).
    promote = policy_statements(example, "pipeline_handlers_promote_role")
    watch = statement(promote, "WatchEnvironmentAlarms")
    assert watch["actions"] == ["cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms"]
    names = [r.split(":alarm:")[1] for r in watch["resources"]]
    # One pattern per environment and alarm covers every function's (400 alarms at 20
    # functions in 10 environments would outgrow IAM's policy sizes).
    assert names == [
        "orders-*-staging-errors",
        "orders-*-staging-throttles",
        "orders-*-production-errors",
        "orders-*-production-throttles",
    ]
    # Subscribers hear when a release starts waiting at a gate.
    assert "sns:Publish" in {a for s in promote for a in s["actions"]}


def test_one_function_names_its_alarms_exactly(single: dict[str, Any]) -> None:
    promote = policy_statements(single, "pipeline_handlers_promote_role")
    names = [
        r.split(":alarm:")[1] for r in statement(promote, "WatchEnvironmentAlarms")["resources"]
    ]
    assert names == [
        "orders-api-staging-errors",
        "orders-api-staging-throttles",
        "orders-api-production-errors",
        "orders-api-production-throttles",
    ]


def test_a_change_calendar_is_read_by_name_and_nothing_else(windowed: dict[str, Any]) -> None:
    # Service Authorization Reference, AWS Systems Manager: GetCalendarState acts on the
    # document resource type (a Change Calendar is an SSM document of type ChangeCalendar).
    promote = policy_statements(windowed, "pipeline_handlers_promote_role")
    calendar = statement(promote, "ReadChangeCalendars")
    assert calendar["actions"] == ["ssm:GetCalendarState"]
    (arn,) = calendar["resources"]
    assert arn.endswith(f":document/{CALENDAR}")
    functions = resources(windowed, "aws_lambda_function")
    (handler,) = [f for i, f in functions.items() if "pipeline_handlers_promote" in i]
    settings = json.loads(handler["environment"]["variables"]["APPLICATION"])
    assert settings["environments"][1]["window"] == {
        "days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
        "start": "09:00",
        "end": "16:00",
        "zone": "Europe/Berlin",
        "calendar": CALENDAR,
        "wait": 4320 * 60,
    }
    assert settings["line"] == {"parameter": "/orders/release-line", "wait": 3600}


def test_an_environment_elsewhere_is_watched_through_its_deployment_role() -> None:
    document = synth_config(multi_account_config())
    statements = policy_statements(document, "deployment-role-production_policy")
    watch = statement(statements, "WatchEnvironmentAlarms")
    assert all(":eu-central-1:222222222222:alarm:" in r for r in watch["resources"])
    promote = policy_statements(document, "pipeline_handlers_promote_role")
    with pytest.raises(AssertionError):
        statement(promote, "WatchEnvironmentAlarms")


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (DeploymentWindow(days=("Mon", "Funday")), "days is ['Mon', 'Funday']"),
        (DeploymentWindow(start="16:00", end="09:00"), "expected start before end"),
        (DeploymentWindow(start="9am"), "start is '9am'"),
        (DeploymentWindow(time_zone="Mars/Olympus"), "time_zone is 'Mars/Olympus'"),
        (DeploymentWindow(change_calendar="a b"), "change_calendar is 'a b'"),
        (DeploymentWindow(max_wait_minutes=0), "max_wait_minutes is 0"),
    ],
)
def test_bad_windows_are_named_at_synth(window: DeploymentWindow, message: str) -> None:
    config = example_config()
    staging, production = config.environments or ()
    bad = replace(config, environments=(staging, replace(production, deployment_window=window)))
    with pytest.raises(ConfigurationError, match="production'\\]\\.deployment_window") as raised:
        synth_config(bad)
    assert any(message in problem for problem in raised.value.problems), raised.value.problems


def test_bake_minutes_are_bounded() -> None:
    config = example_config()
    staging, production = config.environments or ()
    with pytest.raises(ConfigurationError, match="bake_minutes is 2000"):
        synth_config(
            replace(config, environments=(staging, replace(production, bake_minutes=2000)))
        )

"""Check<Env>Gates and Check<Env>Bake against moto: alarms, the line, deployment windows."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import boto3
import pytest

from serverless_pipeline.emulator.clock import CLOCK
from serverless_pipeline.emulator.cloudwatch import alarm_history, hold_in_alarm
from serverless_pipeline.emulator.ssm import change_calendars, set_calendar
from serverless_pipeline.handlers import clients, gates, promote, settings
from serverless_pipeline.handlers.errors import (
    AlarmBlocked,
    BakeAlarm,
    InvalidEvent,
    LineStopped,
    OutsideDeploymentWindow,
)
from serverless_pipeline.handlers.settings import Window
from tests.handlers.conftest import REGION, Account, application, create_alarms, inbox

LINE = "/app/release-line"
RELEASE = {
    "id": "r2",
    "bucket": "pipeline-artifacts",
    "key": "releases/r2/app.zip",
    "sha256": "0" * 64,
}
BERLIN_WEEKDAYS = Window(
    days=("Mon", "Tue", "Wed", "Thu", "Fri"),
    start="09:00",
    end="16:00",
    zone="Europe/Berlin",
    calendar=None,
    wait=3 * 86400,
)


def at(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text).timestamp())


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        # Wednesday 10:00 in Berlin (CET, UTC+1): open.
        ("2026-11-25T09:00:00+00:00", None),
        # Wednesday 07:59 UTC is 08:59 in Berlin: opens at 09:00 Berlin, 08:00 UTC.
        ("2026-11-25T07:59:00+00:00", "2026-11-25T08:00:00+00:00"),
        # Friday 16:00 Berlin has closed: Monday 09:00 Berlin.
        ("2026-11-27T15:00:00+00:00", "2026-11-30T08:00:00+00:00"),
        # Summer time (CEST, UTC+2): Monday 09:00 Berlin is 07:00 UTC.
        ("2026-06-28T12:00:00+00:00", "2026-06-29T07:00:00+00:00"),
    ],
)
def test_the_weekly_window_opens_on_its_days_and_hours_in_its_zone(
    now: str, opens: str | None
) -> None:
    assert gates.window_opens(BERLIN_WEEKDAYS, at(now), None) == (opens and at(opens))


def test_a_closed_calendar_holds_the_window_until_it_opens_and_the_hours_allow() -> None:
    wednesday = at("2026-11-25T09:00:00+00:00")
    # The freeze ends Friday 20:00 UTC, after Friday's hours: Monday 09:00 Berlin.
    ends = at("2026-11-27T20:00:00+00:00")
    assert gates.window_opens(BERLIN_WEEKDAYS, wednesday, (False, ends)) == at(
        "2026-11-30T08:00:00+00:00"
    )
    assert gates.window_opens(BERLIN_WEEKDAYS, wednesday, (False, None)) == gates.UNKNOWN
    assert gates.window_opens(BERLIN_WEEKDAYS, wednesday, (True, ends)) is None


@pytest.fixture
def heard(account: Account, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[Any]]:
    """What subscribers of the release topic heard."""
    return inbox(monkeypatch)


@pytest.fixture
def gated(
    account: Account, heard: Callable[[], list[Any]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Account]:
    """The account with its alarms, the line switch open and a topic that records."""
    create_alarms(account, ("staging", "production"))
    boto3.client("ssm", region_name=REGION).put_parameter(Name=LINE, Value="open", Type="String")
    monkeypatch.setenv("APPLICATION", application(line={"parameter": LINE, "wait": 3600}))
    with alarm_history(), change_calendars():
        yield account


def check(environment: str, since: int = 0, reason: str = "") -> dict[str, Any]:
    event = {
        "action": "gate",
        "environment": environment,
        "release": RELEASE,
        "execution": "release-r2",
        "since": since,
        "reason": reason,
    }
    result: dict[str, Any] = promote.handler(event, None)
    return result


def test_open_gates_let_the_release_go(gated: Account, heard: Callable[[], list[Any]]) -> None:
    outcome = check("staging")
    assert outcome["open"] is True and outcome["wait_seconds"] == 0
    assert heard() == []


def test_an_alarm_in_alarm_blocks_the_environment_and_names_the_alarm(gated: Account) -> None:
    name = f"{gated.function_name('production')}-errors"
    # Held in ALARM, as by errors that go on: CloudWatch would otherwise evaluate it back to OK
    # on the function's quiet metrics.
    hold_in_alarm("123456789012", REGION, [name], "a dependency is down")
    with pytest.raises(AlarmBlocked, match=name):
        check("production")
    # Another environment's alarms are none of its business.
    assert check("staging")["open"] is True


def test_a_stopped_line_holds_the_first_environment_then_fails(
    gated: Account, heard: Callable[[], list[Any]]
) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=LINE, Value="stopped", Type="String", Overwrite=True
    )
    first = check("staging")
    assert first["open"] is False and first["wait_seconds"] == gates.LINE_POLL_SECONDS
    (message,) = heard()
    assert (message["outcome"], message["reason"]) == ("waiting", "the line is stopped")
    # Told once, not on every look.
    assert check("staging", since=first["since"], reason=first["reason"])["open"] is False
    assert heard() == []
    # A release already past the first environment finishes.
    assert check("production")["open"] is True
    with pytest.raises(LineStopped, match="stayed stopped"):
        check("staging", since=first["since"] - 3600)


def test_a_closed_window_is_waited_for_then_fails_if_it_would_open_too_late(
    gated: Account, heard: Callable[[], list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    window = {
        "days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
        "start": "09:00",
        "end": "16:00",
        "zone": "Europe/Berlin",
        "calendar": None,
        "wait": 86400,
    }
    document = json.loads(application(line={"parameter": LINE, "wait": 3600}))
    document["environments"][1]["window"] = window
    monkeypatch.setenv("APPLICATION", json.dumps(document))
    thursday_evening = at("2026-11-26T18:00:00+00:00")
    with mock.patch.object(gates.time, "time", return_value=thursday_evening):
        waiting = check("production")
    # Friday 09:00 Berlin is 08:00 UTC: 14 hours on.
    assert waiting == {
        "open": False,
        "since": thursday_evening,
        "wait_seconds": 14 * 3600,
        "reason": gates.WINDOW,
    }
    (message,) = heard()
    assert message["resumes_at"] == "2026-11-27T08:00:00+00:00"
    friday_evening = at("2026-11-27T18:00:00+00:00")
    with (
        mock.patch.object(gates.time, "time", return_value=friday_evening),
        pytest.raises(OutsideDeploymentWindow, match="opens at 2026-11-30T08:00:00"),
    ):
        check("production")


def test_a_change_freeze_is_read_from_the_calendar(
    gated: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = {"days": list(settings.WEEKDAYS), "start": "00:00", "end": "24:00", "zone": "UTC"}
    document = json.loads(application(line={"parameter": LINE, "wait": 3600}))
    document["environments"][1]["window"] = {**window, "calendar": "freeze", "wait": 7200}
    monkeypatch.setenv("APPLICATION", json.dumps(document))
    set_calendar("123456789012", REGION, "freeze", "CLOSED")
    first = check("production")
    assert first["open"] is False and first["wait_seconds"] == gates.CALENDAR_POLL_SECONDS
    with pytest.raises(OutsideDeploymentWindow, match="freeze stayed closed"):
        check("production", since=int(time.time()) - 7200)
    set_calendar("123456789012", REGION, "freeze", "OPEN")
    assert check("production", since=first["since"])["open"] is True


def bake(seconds: int = 600) -> dict[str, Any]:
    event = {
        "action": "bake",
        "environment": "production",
        "release": RELEASE,
        "execution": "release-r2",
        "bake_seconds": seconds,
    }
    result: dict[str, Any] = promote.handler(event, None)
    return result


def test_a_quiet_bake_passes(gated: Account) -> None:
    assert bake() == {"alarms": 2}


def test_an_alarm_that_went_off_and_recovered_during_the_bake_fails_it(gated: Account) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    name = f"{gated.function_name('production')}-errors"
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="errors")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet again")
    # Function code reads the emulator's clock, as in the rehearsal's Lambda runtime.
    with mock.patch("time.time", CLOCK.time), pytest.raises(BakeAlarm, match=name):
        bake()


def test_an_alarm_that_fired_in_the_checks_own_second_fails_the_bake(gated: Account) -> None:
    """Some SDKs send DescribeAlarmHistory's dates in whole seconds (botocore 1.43's
    rpc-v2-cbor serializer for CloudWatch did): the look must reach past the check's own
    second, or an alarm that fired a moment before the check passes for a quiet bake."""

    def whole_seconds(params: dict[str, Any], **_: Any) -> dict[str, Any]:
        print("HOOK", params)
        return {
            key: value.replace(microsecond=0) if isinstance(value, datetime.datetime) else value
            for key, value in params.items()
        }

    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    name = f"{gated.function_name('production')}-errors"
    # The handler's own CloudWatch client (clients.client keeps one per service).
    events = clients.client("cloudwatch").meta.events
    event = "provide-client-params.cloudwatch.DescribeAlarmHistory"
    events.register(event, whole_seconds)
    # The alarm fires and recovers half a second into a second; the check runs in that second
    # (the emulator's clock stands still meanwhile, however slow the machine).
    frozen = time.time()
    try:
        with mock.patch("serverless_pipeline.emulator.clock._real_time", lambda: frozen):
            CLOCK.advance(1.5 - CLOCK.time() % 1)
            cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="errors")
            cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")
            CLOCK.advance(0.2)
            with mock.patch("time.time", CLOCK.time), pytest.raises(BakeAlarm, match=name):
                bake()
    finally:
        events.unregister(event, whole_seconds)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"action": "gate", "since": -1}, "since is -1"),
        ({"action": "gate", "reason": 3}, "reason is 3"),
        ({"action": "bake", "bake_seconds": 0}, "bake_seconds is 0"),
        ({"action": "bake"}, "bake_seconds is None"),
    ],
)
def test_gate_and_bake_events_are_checked(
    gated: Account, change: dict[str, Any], message: str
) -> None:
    event = {"environment": "staging", "release": RELEASE, "execution": "x", **change}
    with pytest.raises(InvalidEvent, match=message):
        promote.handler(event, None)


def test_the_handlers_name_alarms_and_days_as_the_constructs_do() -> None:
    # The handlers import nothing of the package: their copies must agree with it.
    from serverless_pipeline.alarms import OWN_ALARMS
    from serverless_pipeline.application_settings import WEEKDAYS

    assert settings.OWN_ALARMS == OWN_ALARMS
    assert settings.WEEKDAYS == WEEKDAYS


def test_an_alarm_that_does_not_exist_blocks_rather_than_passes(
    gated: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DescribeAlarms leaves out names it does not know: a misspelled alarm must not read as a
    # healthy environment.
    document = json.loads(application(line={"parameter": LINE, "wait": 3600}))
    document["environments"][1]["alarms"] = {"own": list(settings.OWN_ALARMS), "extra": ["typo"]}
    monkeypatch.setenv("APPLICATION", json.dumps(document))
    with pytest.raises(AlarmBlocked, match="typo are not metric alarms"):
        check("production")
    with pytest.raises(BakeAlarm, match="typo are not metric alarms"):
        bake()


def test_a_release_that_waits_for_the_line_then_the_window_is_told_both(
    gated: Account, heard: Callable[[], list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    document = json.loads(application(line={"parameter": LINE, "wait": 3600}))
    window = {"days": list(settings.WEEKDAYS), "start": "00:00", "end": "24:00", "zone": "UTC"}
    document["environments"][0]["window"] = {**window, "calendar": "freeze", "wait": 7200}
    monkeypatch.setenv("APPLICATION", json.dumps(document))
    set_calendar("123456789012", REGION, "freeze", "CLOSED")
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=LINE, Value="stopped", Type="String", Overwrite=True)
    line = check("staging")
    assert line["reason"] == gates.LINE
    ssm.put_parameter(Name=LINE, Value="open", Type="String", Overwrite=True)
    event = {
        "action": "gate",
        "environment": "staging",
        "release": RELEASE,
        "execution": "release-r2",
        "since": line["since"],
        "reason": line["reason"],
    }
    freeze = promote.handler(event, None)
    assert (freeze["open"], freeze["reason"]) == (False, gates.WINDOW)
    assert [m["reason"] for m in heard()] == [gates.LINE, gates.WINDOW]

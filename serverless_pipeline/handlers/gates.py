"""Check<Env>Gates and Check<Env>Bake: whether a release may go into an environment, and
whether it held up there.

Before an environment is touched: none of its alarms may be in ALARM (AlarmBlocked, at once:
deploying into a burning environment hides what broke it), the line must be open (it is
checked before the first environment only, so a release already deploying finishes), and its
deployment window must be open. A closed line or window is waited for without polling: the
state machine's Wait sleeps for as long as this says (until the window opens, or the next look
at the line), up to the configured limit; then LineStopped or OutsideDeploymentWindow. Subscribers
hear once, when a release starts waiting, and when it will go on.

After an environment's deployment the release bakes there (a Wait state) and then any of its
alarms that went into ALARM during the bake, even if it is OK again by now, fails it with
BakeAlarm.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import time
import zoneinfo
from typing import Any

from . import settings
from .clients import client, in_environment
from .errors import AlarmBlocked, BakeAlarm, LineStopped, OutsideDeploymentWindow
from .events import Release

LOGGER = logging.getLogger(__name__)
# How often a release waiting for a stopped line looks again; and for a Change Calendar that
# says nothing of when it opens.
LINE_POLL_SECONDS = 300
CALENDAR_POLL_SECONDS = 3600
STOPPED = "stopped"
BAKE_MARGIN_SECONDS = 60
# CloudWatch DescribeAlarms: at most 100 names per request.
ALARMS_PER_REQUEST = 100


def gate(
    config: settings.Settings,
    environment: settings.Environment,
    release: Release,
    execution: str,
    since: int,
    reason: str = "",
) -> dict[str, Any]:
    """{"open", "since", "wait_seconds", "reason"}: open, or how long to wait before looking
    again and why; `since` (0 on the first look) is when this release started waiting here,
    `reason` why it waited at the last look. One wait bounds both the line and the window: a
    release waits at a gate at most the longer of their limits."""
    now = int(time.time())
    since = since or now
    cloudwatch = in_environment("cloudwatch", environment, execution)
    firing, missing = in_alarm(cloudwatch, environment.alarm_names)
    if missing:
        raise AlarmBlocked(
            f"release {release.id} was not deployed to {environment.name}: its alarm(s) "
            f"{', '.join(missing)} are not metric alarms of its account and region, so "
            "nothing tells whether it is healthy"
        )
    if firing:
        raise AlarmBlocked(
            f"release {release.id} was not deployed to {environment.name}: its alarm(s) "
            f"{', '.join(firing)} are in ALARM"
        )
    waited = now - since
    first = environment is config.environments[0]
    if first and config.line_switch and line_stopped(config.line_switch):
        if waited >= config.line_wait:
            raise LineStopped(
                f"release {release.id}: the line ({config.line_switch}) stayed stopped for "
                f"{waited} s, longer than a release waits ({config.line_wait} s)"
            )
        wait = min(LINE_POLL_SECONDS, config.line_wait - waited)
        return _waiting(
            config, release, environment, LINE, reason, None, since, config.line_wait, wait
        )
    window = environment.window
    if window is not None:
        opens = window_opens(window, now, calendar_state(environment, execution, window))
        if opens is not None:
            deadline = since + window.wait
            if opens == UNKNOWN:
                if now >= deadline:
                    raise OutsideDeploymentWindow(
                        f"release {release.id}: {environment.name}'s change calendar "
                        f"{window.calendar} stayed closed for {waited} s"
                    )
                wait = min(CALENDAR_POLL_SECONDS, deadline - now)
            elif opens > deadline:
                raise OutsideDeploymentWindow(
                    f"release {release.id}: {environment.name}'s deployment window opens at "
                    f"{_iso(opens)}, after the {window.wait} s a release waits for it "
                    f"(waiting since {_iso(since)}); release again then"
                )
            else:
                wait = max(1, opens - now)
            resumes = None if opens == UNKNOWN else opens
            return _waiting(
                config, release, environment, WINDOW, reason, resumes, since, window.wait, wait
            )
    return {"open": True, "since": since, "wait_seconds": 0, "reason": ""}


def bake(
    environment: settings.Environment, release: Release, execution: str, bake_seconds: int
) -> dict[str, Any]:
    """The release baked for `bake_seconds` just now: BakeAlarm if any alarm of the
    environment is in ALARM, or went into ALARM at any moment of it."""
    cloudwatch = in_environment("cloudwatch", environment, execution)
    names = environment.alarm_names
    # Up to the end of this second: an SDK may send the dates in whole seconds (botocore's
    # rpc-v2-cbor serializer did, for CloudWatch), which would cut off what fired just now.
    end = datetime.datetime.fromtimestamp(math.floor(time.time()) + 1, datetime.UTC)
    # The check starts a moment after the bake's Wait ends: look back a minute more (CloudWatch
    # evaluates alarms once a minute, so nothing that fired in the bake is missed).
    start = end - datetime.timedelta(seconds=bake_seconds + BAKE_MARGIN_SECONDS)
    firing, missing = in_alarm(cloudwatch, names)
    if missing:
        raise BakeAlarm(
            f"release {release.id}: {environment.name}'s alarm(s) {', '.join(missing)} are not "
            "metric alarms of its account and region, so nothing watched the bake"
        )
    fired = set(firing)
    for name in names:
        pages = cloudwatch.get_paginator("describe_alarm_history").paginate(
            AlarmName=name, HistoryItemType="StateUpdate", StartDate=start, EndDate=end
        )
        for page in pages:
            for item in page["AlarmHistoryItems"]:
                data = json.loads(item.get("HistoryData") or "{}")
                if data.get("newState", {}).get("stateValue") == "ALARM":
                    fired.add(name)
    if fired:
        raise BakeAlarm(
            f"release {release.id}: alarm(s) {', '.join(sorted(fired))} of {environment.name} "
            f"went into ALARM while it baked there ({bake_seconds} s)"
        )
    LOGGER.info(
        "baked", extra={"environment": environment.name, "release_id": release.id, "alarms": names}
    )
    return {"alarms": len(names)}


def in_alarm(cloudwatch: Any, names: list[str]) -> tuple[list[str], list[str]]:
    """(the alarms among `names` in ALARM now, those that are no metric alarm at all). Metric
    alarms only, as the deployment groups watch them: DescribeAlarms returns composite alarms
    (and DescribeAlarmHistory their history) only to a caller allowed on every alarm, "*", and
    DescribeAlarms leaves out names it does not know, which would otherwise pass for healthy."""
    firing: list[str] = []
    found: set[str] = set()
    for start in range(0, len(names), ALARMS_PER_REQUEST):
        batch = names[start : start + ALARMS_PER_REQUEST]
        pages = cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNames=batch, AlarmTypes=["MetricAlarm"]
        )
        for page in pages:
            for alarm in page.get("MetricAlarms", []):
                found.add(alarm["AlarmName"])
                if alarm["StateValue"] == "ALARM":
                    firing.append(alarm["AlarmName"])
    return sorted(firing), sorted(set(names) - found)


def line_stopped(parameter: str) -> bool:
    value = client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    return str(value).strip().lower() == STOPPED


# A Change Calendar that is closed and says nothing of when it opens.
UNKNOWN = -1


def calendar_state(
    environment: settings.Environment, execution: str, window: settings.Window
) -> tuple[bool, int | None] | None:
    """(open, epoch of its next change or None) of the window's Change Calendar; None without
    one."""
    if not window.calendar:
        return None
    ssm = in_environment("ssm", environment, execution)
    state = ssm.get_calendar_state(CalendarNames=[window.calendar])
    change = state.get("NextTransitionTime")
    at = (
        int(datetime.datetime.fromisoformat(change.replace("Z", "+00:00")).timestamp())
        if change
        else None
    )
    return state["State"] == "OPEN", at


def window_opens(
    window: settings.Window, now: int, calendar: tuple[bool, int | None] | None
) -> int | None:
    """None when the window is open at `now`; else when it opens next (epoch seconds), or
    UNKNOWN when a closed calendar does not say."""
    weekly = _weekly_opening(window, now)
    if calendar is None or calendar[0]:
        return weekly
    opens_again = calendar[1]
    if opens_again is None:
        return UNKNOWN
    # Both must be open: look again when the later of the two opens.
    later = _weekly_opening(window, opens_again)
    return max(opens_again, later if later is not None else opens_again)


def _weekly_opening(window: settings.Window, now: int) -> int | None:
    """None when `now` is inside the weekly hours; else the start of the next one."""
    zone = zoneinfo.ZoneInfo(window.zone)
    local = datetime.datetime.fromtimestamp(now, zone)
    for offset in range(8):
        day = (local + datetime.timedelta(days=offset)).date()
        if settings.WEEKDAYS[day.weekday()] not in window.days:
            continue
        opens = _at(day, window.start, zone)
        closes = _at(day, window.end, zone)
        if opens <= local < closes:
            return None
        if local < opens:
            return int(opens.timestamp())
    return None  # every day listed and always open: cannot happen for a valid window


def _at(day: datetime.date, clock: str, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    midnight = datetime.datetime.combine(day, datetime.time(), zone)
    return midnight + datetime.timedelta(hours=hours, minutes=minutes)


def _iso(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat()


LINE = "the line is stopped"
WINDOW = "outside its deployment window"


def _waiting(
    config: settings.Settings,
    release: Release,
    environment: settings.Environment,
    why: str,
    before: str,
    resumes: int | None,
    since: int,
    limit: int,
    wait: int,
) -> dict[str, Any]:
    """Wait `wait` seconds for `why`; subscribers hear when a release starts waiting for a
    reason (once per reason: the line, then the window, each say so)."""
    if why != before:
        _announce(config, release, environment, why, resumes, since, limit)
    return {"open": False, "since": since, "wait_seconds": wait, "reason": why}


def _announce(
    config: settings.Settings,
    release: Release,
    environment: settings.Environment,
    reason: str,
    resumes: int | None,
    since: int,
    limit: int,
) -> None:
    """Tell subscribers, once, that a release waits, and when it goes on."""
    client("sns").publish(
        TopicArn=config.topic(),
        Subject=f"Release {release.id} waits before {environment.name}"[:100],
        Message=json.dumps(
            {
                "release": release.id,
                "outcome": "waiting",
                "environment": environment.name,
                "reason": reason,
                "resumes_at": _iso(resumes) if resumes is not None else None,
                "gives_up_at": _iso(since + limit),
            },
            sort_keys=True,
        ),
    )

"""Lambda's metrics and CloudWatch alarm evaluation in moto.

In AWS, Lambda publishes Invocations and Errors for every invoke and CloudWatch moves an alarm to
ALARM when its metric breaches. moto does neither; these functions do, for the metrics and the
alarm shapes the pipeline creates (a statistic over whole periods against a threshold).
"""

from __future__ import annotations

import datetime
import json
import operator
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.cloudwatch.models import Alarm
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from .accounts import account_client
from .clock import CLOCK

_COMPARISONS = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def record_invocation(
    account_id: str, region: str, function_name: str, qualifier: str | None, errored: bool
) -> None:
    """Publish the invocation as Lambda does: per function, and per alias or version, in the
    function's own account and region."""
    cloudwatch = account_client("cloudwatch", account_id, region)
    stamp = CLOCK.now()
    dimension_sets = [[{"Name": "FunctionName", "Value": function_name}]]
    if qualifier:
        dimension_sets.append(
            [
                {"Name": "FunctionName", "Value": function_name},
                {"Name": "Resource", "Value": f"{function_name}:{qualifier}"},
            ]
        )
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": dimensions,
                "Value": value,
                "Unit": "Count",
                "Timestamp": stamp,
            }
            for dimensions in dimension_sets
            for name, value in (("Invocations", 1.0), ("Errors", 1.0 if errored else 0.0))
        ],
    )


def breached(
    account_id: str, region: str, alarm_names: list[str], since: datetime.datetime | None = None
) -> list[str]:
    """Evaluate each alarm on the datapoints recorded since `since` (a deployment's own
    traffic only; by default the alarm's own evaluation periods), on the emulator's clock; set
    each alarm's state and return the names of those in ALARM."""
    if not alarm_names:
        return []
    _EVALUATING.now = True
    try:
        return _breached(account_id, region, alarm_names, since)
    finally:
        _EVALUATING.now = False


# Set while the emulator evaluates alarms itself: its own reads evaluate nothing again.
_EVALUATING = threading.local()


# Alarms set off by something outside the application (a dependency that is down): they stay
# in ALARM whatever the application's metrics say. (account, region, alarm name)
_HELD: set[tuple[str, str, str]] = set()


def hold_in_alarm(account_id: str, region: str, alarm_names: list[str], reason: str) -> None:
    """Set these alarms off and keep them in ALARM for the rest of the rehearsal."""
    cloudwatch = account_client("cloudwatch", account_id, region)
    for name in alarm_names:
        _HELD.add((account_id, region, name))
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)


def _breached(
    account_id: str, region: str, alarm_names: list[str], since: datetime.datetime | None
) -> list[str]:
    cloudwatch = account_client("cloudwatch", account_id, region)
    now = CLOCK.now()
    firing = [n for n in alarm_names if (account_id, region, n) in _HELD]
    for alarm in cloudwatch.describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]:
        if alarm["AlarmName"] in firing:
            continue
        points = cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions", []),
            # By default, what CloudWatch evaluates every minute: the alarm's last periods.
            StartTime=since
            or now - datetime.timedelta(seconds=alarm["Period"] * alarm["EvaluationPeriods"]),
            EndTime=now + datetime.timedelta(seconds=60),
            Period=alarm["Period"],
            Statistics=[alarm["Statistic"]],
        )["Datapoints"]
        value = sum(point[alarm["Statistic"]] for point in points)
        breaching = bool(points) and _COMPARISONS[alarm["ComparisonOperator"]](
            value, alarm["Threshold"]
        )
        cloudwatch.set_alarm_state(
            AlarmName=alarm["AlarmName"],
            StateValue="ALARM" if breaching else "OK",
            StateReason=f"{alarm['MetricName']} {alarm['Statistic']} {value:g} against "
            f"threshold {alarm['Threshold']:g}",
        )
        if breaching:
            firing.append(str(alarm["AlarmName"]))
    return firing


def alarm_names(configuration: Any) -> list[str]:
    """The alarm names of a moto deployment group's alarm configuration (kept as the request's
    dict, or as moto's AlarmConfiguration), if it is enabled."""
    if isinstance(configuration, dict):
        enabled, alarms = configuration.get("enabled", False), configuration.get("alarms", [])
    else:
        enabled = getattr(configuration, "enabled", False)
        alarms = getattr(configuration, "alarms", [])
    return [str(alarm["name"]) for alarm in alarms] if enabled else []


# An alarm's state changes, on the emulator's clock: (when, old state, new state).
_HISTORY = "_emulated_history"


@contextmanager
def alarm_history() -> Iterator[None]:
    """Within this block every alarm keeps its state changes, stamped on the emulator's
    clock, and DescribeAlarmHistory answers with them (moto has no DescribeAlarmHistory); and
    an alarm read by name is evaluated first on its last periods, as CloudWatch keeps
    evaluating alarms every minute (moto leaves an alarm in whatever state it was set to)."""
    original = Alarm.update_state
    original_describe = CloudWatchResponse.describe_alarms

    def describe_alarms(response: CloudWatchResponse) -> ActionResult:
        names = response._get_param("AlarmNames", [])
        if names and not getattr(_EVALUATING, "now", False):
            breached(response.current_account, response.region, list(names))
        return original_describe(response)

    def update_state(alarm: Alarm, reason: str, reason_data: str, state_value: str) -> None:
        changes = alarm.__dict__.setdefault(_HISTORY, [])
        if state_value != alarm.state_value:
            changes.append((CLOCK.now(), alarm.state_value, state_value, reason))
        original(alarm, reason, reason_data, state_value)

    def describe_alarm_history(response: CloudWatchResponse) -> ActionResult:
        name = response._get_param("AlarmName")
        kind = response._get_param("HistoryItemType")
        start = _instant(response._get_param("StartDate"))
        end = _instant(response._get_param("EndDate"))
        alarms = response.cloudwatch_backend.alarms
        chosen = [alarms[name]] if name in alarms else [] if name else list(alarms.values())
        items = [
            {
                "AlarmName": alarm.name,
                "AlarmType": "MetricAlarm",
                "Timestamp": when,
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {new}",
                "HistoryData": json.dumps(
                    {
                        "version": "1.0",
                        "oldState": {"stateValue": old},
                        "newState": {"stateValue": new, "stateReason": reason},
                    }
                ),
            }
            for alarm in chosen
            for when, old, new, reason in alarm.__dict__.get(_HISTORY, [])
            if kind in (None, "StateUpdate")
            and (start is None or when >= start)
            and (end is None or when <= end)
        ]
        return ActionResult({"AlarmHistoryItems": items})

    with (
        mock.patch.object(Alarm, "update_state", update_state),
        mock.patch.object(CloudWatchResponse, "describe_alarms", describe_alarms),
        mock.patch.object(
            CloudWatchResponse, "describe_alarm_history", describe_alarm_history, create=True
        ),
    ):
        try:
            yield
        finally:
            _HELD.clear()


def _instant(value: datetime.datetime | None) -> datetime.datetime | None:
    """A request's timestamp, which moto parsed from whatever protocol the SDK spoke (query,
    JSON or rpc-v2-cbor) into a datetime in UTC, as an aware datetime."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)

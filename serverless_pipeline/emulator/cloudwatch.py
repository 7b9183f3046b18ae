"""Lambda's metrics and CloudWatch alarm evaluation in moto.

In AWS, Lambda publishes Invocations and Errors for every invoke and CloudWatch moves an alarm to
ALARM when its metric breaches. moto does neither; these functions do, for the metrics and the
alarm shapes the pipeline creates (a statistic over whole periods against a threshold).
"""

from __future__ import annotations

import datetime
import operator
from typing import Any

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
    account_id: str, region: str, alarm_names: list[str], since: datetime.datetime
) -> list[str]:
    """Evaluate each alarm on the datapoints recorded since `since`, on the emulator's clock
    (a deployment's own traffic only); set each alarm's state and return the names of those in
    ALARM."""
    if not alarm_names:
        return []
    cloudwatch = account_client("cloudwatch", account_id, region)
    now = CLOCK.now()
    firing = []
    for alarm in cloudwatch.describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]:
        points = cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions", []),
            StartTime=since,
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

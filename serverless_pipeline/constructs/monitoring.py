"""PipelineMonitoring: a dashboard of releases and alarms on executions that end badly."""

from __future__ import annotations

import json
from typing import Any

from constructs import Construct

from ..engine import aws
from ..layout import EnvironmentLayout
from .application import ServerlessApplication
from .aws_context import AwsContext
from .handler_functions import HandlerFunctions
from .notifications import Notifications
from .state_machine import DeploymentStateMachine

# CloudWatch dashboard body structure: an alarm status widget lists 1-100 alarm ARNs, and a
# metric widget graphs at most 500 metrics; larger applications get more widgets.
ALARMS_PER_WIDGET = 100
METRICS_PER_WIDGET = 500
# Step Functions metrics of executions that did not succeed; each gets an alarm.
BAD_ENDINGS = ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted")
# Endings the state machine cannot announce itself. A failed execution has already published
# its outcome (NotifyRolledBack or NotifyRollbackFailed), so its alarm only shows on the
# dashboard: one message per outcome.
SILENT_ENDINGS = ("ExecutionsTimedOut", "ExecutionsAborted")


class PipelineMonitoring(Construct):
    """Alarms (notifying the release topic) when an execution fails, times out or is aborted,
    and a dashboard: releases by outcome, release duration, time in each handler, traffic and
    errors through each live alias during deployments, and the state of every alarm."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        state_machine: DeploymentStateMachine,
        handlers: HandlerFunctions,
        application: ServerlessApplication,
        notifications: Notifications,
        context: AwsContext,
    ) -> None:
        super().__init__(scope, id)
        machine_arn = state_machine.arn_from_name(context)
        self.alarms = [
            aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
                self,
                f"{metric.lower()}-alarm",
                alarm_name=f"{state_machine.name}-{metric.removeprefix('Executions').lower()}",
                alarm_description=f"A release execution of {state_machine.name} ended "
                f"{metric.removeprefix('Executions').lower()}; see the execution's history",
                namespace="AWS/States",
                metric_name=metric,
                dimensions={"StateMachineArn": machine_arn},
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[notifications.arn] if metric in SILENT_ENDINGS else None,
            )
            for metric in BAD_ENDINGS
        ]
        self.name = f"{state_machine.name}-releases"
        region = context.region
        # Alarms live where their functions live: an environment elsewhere names its own
        # account and region (its widgets need CloudWatch cross-account observability there).
        alarm_arns = [a.arn for a in self.alarms] + [
            application.context_of(environment).arn("cloudwatch", f"alarm:{name}")
            for environment in application.environment_names
            for name in application.alarm_names[environment]
        ]
        widgets: list[dict[str, Any]] = [
            _metrics(
                "Releases by outcome",
                region,
                [
                    ["AWS/States", metric, "StateMachineArn", machine_arn, {"stat": "Sum"}]
                    for metric in ("ExecutionsSucceeded", *BAD_ENDINGS)
                ],
                period=3600,
            ),
            _metrics(
                "Release duration (ms)",
                region,
                [
                    [
                        "AWS/States",
                        "ExecutionTime",
                        "StateMachineArn",
                        machine_arn,
                        {"stat": stat, "label": stat},
                    ]
                    for stat in ("Average", "p90")
                ],
                period=3600,
            ),
            _metrics(
                "Time in each state's handler (ms)",
                region,
                [
                    [
                        "AWS/Lambda",
                        "Duration",
                        "FunctionName",
                        function.name,
                        {"stat": "Average", "label": name},
                    ]
                    for name, function in handlers.functions.items()
                ],
                period=300,
            ),
            *_chunked(
                "Traffic and errors through the live aliases",
                region,
                [
                    [
                        "AWS/Lambda",
                        metric,
                        "FunctionName",
                        function.function_name,
                        "Resource",
                        f"{function.function_name}:{application.props.alias}",
                        {"stat": "Sum", "label": f"{label} {metric}", **_where(environment)},
                    ]
                    for environment, function in application.layout.targets()
                    for label in [
                        environment.name
                        if application.props.single_function
                        else f"{environment.name} {function.key}"
                    ]
                    for metric in ("Invocations", "Errors", "Throttles")
                ],
            ),
            *(
                {
                    "type": "alarm",
                    "width": 24,
                    "height": 4,
                    "properties": {"title": title, "alarms": part},
                }
                for title, part in _parts("Alarms", alarm_arns, ALARMS_PER_WIDGET)
            ),
        ]
        self.dashboard = aws.cloudwatch_dashboard.CloudwatchDashboard(
            self,
            "dashboard",
            dashboard_name=self.name,
            dashboard_body=json.dumps({"widgets": widgets}),
        )


def _where(environment: EnvironmentLayout) -> dict[str, str]:
    """A metric's account and region, for an environment that lives elsewhere."""
    placement = environment.placement
    if placement is None:
        return {}
    where = {"accountId": placement.account_id} if placement.account_id else {}
    return {**where, "region": placement.region} if placement.region else where


def _parts(title: str, items: list[Any], size: int) -> list[tuple[str, list[Any]]]:
    """(title, items) per widget of at most `size` items; one part keeps the title as is."""
    parts = [items[start : start + size] for start in range(0, len(items), size)] or [[]]
    if len(parts) == 1:
        return [(title, parts[0])]
    return [(f"{title} ({n} of {len(parts)})", part) for n, part in enumerate(parts, start=1)]


def _chunked(title: str, region: str, metrics: list[list[Any]]) -> list[dict[str, Any]]:
    """Per-minute metric widgets of at most METRICS_PER_WIDGET metrics each."""
    return [
        _metrics(part_title, region, part, period=60)
        for part_title, part in _parts(title, metrics, METRICS_PER_WIDGET)
    ]


def _metrics(title: str, region: str, metrics: list[list[Any]], *, period: int) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "metrics": metrics,
            "period": period,
            "view": "timeSeries",
            "stacked": False,
        },
    }

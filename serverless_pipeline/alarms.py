"""The CloudWatch alarms that stop a deployment, as plain values.

The application construct turns these into aws_cloudwatch_metric_alarm resources and the
rehearsal creates the same alarms in the emulator, so both watch a release the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AlarmSettings:
    """Alarms on an environment's live alias that stop and roll back a deployment."""

    enabled: bool = True
    """Create the errors and throttles alarms and let them stop deployments. Turning this off
    leaves a deployment with nothing watching it but its own tests."""
    errors_threshold: int = 1
    """Errors through the alias, summed over `period_seconds`, that set the alarm off."""
    throttles_threshold: int = 1
    """Throttles through the alias, summed over `period_seconds`, that set the alarm off."""
    period_seconds: int = 60
    """Length of one evaluation period (60 or a multiple of 60)."""
    evaluation_periods: int = 1
    """Consecutive breaching periods before the alarm fires."""
    extra_alarm_names: Sequence[str] = field(default_factory=tuple)
    """Names of your own CloudWatch alarms that also stop deployments of this environment."""


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    metric_name: str
    function_name: str
    alias: str
    threshold: int
    period_seconds: int
    evaluation_periods: int
    statistic: str = "Sum"
    comparison: str = "GreaterThanOrEqualToThreshold"
    treat_missing_data: str = "notBreaching"

    @property
    def dimensions(self) -> dict[str, str]:
        """Lambda's per-alias dimensions: traffic through the alias, old and new version."""
        return {
            "FunctionName": self.function_name,
            "Resource": f"{self.function_name}:{self.alias}",
        }


# The alarms the pipeline creates for each function, as their names end: <function>-errors.
OWN_ALARMS = ("errors", "throttles")


def alarm_specs(function_name: str, alias: str, settings: AlarmSettings) -> list[AlarmSpec]:
    """The alarms the pipeline creates for one environment (none when disabled)."""
    if not settings.enabled:
        return []
    return [
        AlarmSpec(
            name=f"{function_name}-{metric.lower()}",
            metric_name=metric,
            function_name=function_name,
            alias=alias,
            threshold=threshold,
            period_seconds=settings.period_seconds,
            evaluation_periods=settings.evaluation_periods,
        )
        for metric, threshold in zip(
            (own.capitalize() for own in OWN_ALARMS),
            (settings.errors_threshold, settings.throttles_threshold),
            strict=True,
        )
    ]


def watched_alarm_names(function_name: str, alias: str, settings: AlarmSettings) -> list[str]:
    """Every alarm that stops a deployment of this environment: ours and the user's."""
    if not settings.enabled:
        return list(settings.extra_alarm_names)
    return [spec.name for spec in alarm_specs(function_name, alias, settings)] + list(
        settings.extra_alarm_names
    )

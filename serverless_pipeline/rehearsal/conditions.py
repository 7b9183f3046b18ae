"""What releases meet in a rehearsal besides their own code: alarms already firing, closed
deployment windows, a stopped line. Plain values, so that the command line reads them without
the emulator."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import PipelineConfig
from ..layout import pipeline_layout
from .source import BAKES


@dataclass(frozen=True)
class Conditions:
    """What the releases meet when they come: alarms already firing, windows closed, the
    line stopped (the rehearsal's --alarm-firing, --outside-window, --line-stopped)."""

    alarm_firing: tuple[str, ...] = ()
    """Environments whose alarms are in ALARM from the start (a dependency is down)."""
    outside_window: tuple[str, ...] = ()
    """Environments whose deployment window stays closed (a change freeze on their Change
    Calendar, with no end in sight)."""
    line_stopped: bool = False
    """Someone stopped the line before the first release."""


def condition_problems(
    config: PipelineConfig, kinds: list[str], conditions: Conditions
) -> list[str]:
    """Why these kinds or conditions cannot be rehearsed with this configuration."""
    names = pipeline_layout(config).application.environment_names
    problems = [
        f"{option} names {name!r}; expected one of {', '.join(names)}"
        for option, chosen in (
            ("--alarm-firing", conditions.alarm_firing),
            ("--outside-window", conditions.outside_window),
        )
        for name in chosen
        if name not in names
    ]
    last = pipeline_layout(config).application.environments[-1]
    problems += [
        f"{kind} fails only while the release bakes in {last.name}, and {last.name} has no "
        "bake_minutes"
        for kind in dict.fromkeys(kinds)
        if kind in BAKES and not last.bake_seconds
    ]
    return problems

"""What a user says about the application being deployed: its functions' settings, each
environment's traffic shifting, alarms and hooks. Plain values, checked here, that the
ServerlessApplication construct and the rehearsal both lay out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import defaults
from .alarms import AlarmSettings
from .assets import zip_bytes
from .naming import ENVIRONMENTS
from .validation import (
    FUNCTION_NAME,
    FUNCTION_NAME_ACCEPTED,
    HANDLER,
    HANDLER_ACCEPTED,
    NAME_PREFIX,
    NAME_PREFIX_ACCEPTED,
    Problems,
)

ENV_VAR_NAME = r"[a-zA-Z][a-zA-Z0-9_]+"
# Choose the library's own traffic hook (HandlerFunctions.traffic_hook).
SMOKE_TESTS = "smoke-tests"
RESERVED_ENV_VARS = frozenset(
    {
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_FUNCTION_NAME",
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
    }
)


@dataclass(frozen=True)
class TrafficShift:
    """A custom traffic-shifting config, for when no predefined one fits."""

    kind: str
    """"canary": `percentage` first, the rest after `interval_minutes`; "linear": `percentage`
    more every `interval_minutes`."""
    percentage: int
    """Share of traffic shifted per step, 1-99."""
    interval_minutes: int
    """Minutes between steps, 1-2880."""

    @property
    def config_name(self) -> str:
        return f"{self.kind.capitalize()}{self.percentage}PercentEvery{self.interval_minutes}Min"


_PREDEFINED_SHIFT = re.compile(
    r"CodeDeployDefault\.Lambda(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Minutes?"
)


def shift_minutes(config: str | TrafficShift) -> int | None:
    """How long a deployment config takes to move all traffic, in minutes (None for a name
    this library does not know): a canary waits one interval, a linear shift takes one interval
    per step after the first."""
    if isinstance(config, TrafficShift):
        kind, percentage, interval = config.kind, config.percentage, config.interval_minutes
        if kind not in ("canary", "linear") or not (1 <= percentage <= 99 and interval >= 1):
            return None  # validate_props names the problem
    elif config == "CodeDeployDefault.LambdaAllAtOnce":
        return 0
    elif match := _PREDEFINED_SHIFT.fullmatch(config):
        kind, percentage, interval = match[1].lower(), int(match[2]), int(match[3])
    else:
        return None
    if kind == "canary":
        return interval
    return (-(-100 // percentage) - 1) * interval


@dataclass(frozen=True)
class EnvironmentSettings:
    """What differs between staging and production."""

    deployment_config: str | TrafficShift
    """How CodeDeploy shifts the alias: a predefined Lambda config such as
    CodeDeployDefault.LambdaCanary10Percent5Minutes, or a custom TrafficShift."""
    variables: Mapping[str, str] = field(default_factory=dict)
    """Environment variables of this environment's function; omitted: none."""
    alarms: AlarmSettings = field(default_factory=AlarmSettings)
    """Alarms that stop and roll back a deployment; omitted: errors and throttles through the
    alias, one in a minute sets them off."""
    before_allow_traffic: str | None = None
    """CodeDeploy BeforeAllowTraffic hook: SMOKE_TESTS for the library's hook (runs the
    release's "smoke" cases against the new version), or your own hook function's name.
    Omitted: no hook."""
    after_allow_traffic: str | None = None
    """CodeDeploy AfterAllowTraffic hook, as `before_allow_traffic`; omitted: no hook."""

    def chosen_hooks(self) -> dict[str, str]:
        """Lifecycle event -> the hook as configured (SMOKE_TESTS or a function name)."""
        chosen = {
            "BeforeAllowTraffic": self.before_allow_traffic,
            "AfterAllowTraffic": self.after_allow_traffic,
        }
        return {event: function for event, function in chosen.items() if function is not None}

    def hooks(self, library_hook: str | None) -> dict[str, str]:
        """Lifecycle event -> hook function name: the user's own hooks as named, SMOKE_TESTS
        resolved to the library's hook (left out while it has no function name)."""
        return {
            event: library_hook if function == SMOKE_TESTS and library_hook else function
            for event, function in self.chosen_hooks().items()
            if function != SMOKE_TESTS or library_hook
        }


@dataclass(frozen=True)
class ApplicationProps:
    """Props of `ServerlessApplication`."""

    name: str
    """Application name: functions <name>-staging and <name>-production, CodeDeploy app <name>."""
    handler: str = "app.handler"
    """The release's handler, module.function; validate checks every release has it."""
    runtime: str = defaults.LAMBDA_RUNTIME
    """Lambda runtime of the application functions."""
    memory_mb: int = 256
    """Memory of each application function, 128-10240 MB."""
    timeout_seconds: int = 30
    """Timeout of each application function, 1-900 s."""
    alias: str = "live"
    """The alias that serves traffic and that CodeDeploy shifts."""
    staging: EnvironmentSettings = field(
        default_factory=lambda: EnvironmentSettings(defaults.STAGING_DEPLOYMENT_CONFIG)
    )
    """Staging settings; omitted: all-at-once deployments, no variables."""
    production: EnvironmentSettings = field(
        default_factory=lambda: EnvironmentSettings(defaults.PRODUCTION_DEPLOYMENT_CONFIG)
    )
    """Production settings; omitted: 10% canary for 5 minutes, no variables."""
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    """Retention of the functions' log groups."""
    reserved_concurrency: int | None = None
    """Concurrency reserved for each application function; omitted: none reserved (the
    account's unreserved pool)."""

    def settings(self, environment: str) -> EnvironmentSettings:
        return self.staging if environment == "staging" else self.production


def validate_props(props: ApplicationProps) -> None:
    problems = Problems("ServerlessApplication")
    problems.pattern("name", props.name, NAME_PREFIX, NAME_PREFIX_ACCEPTED)
    problems.pattern("handler", props.handler, HANDLER, HANDLER_ACCEPTED)
    problems.pattern("alias", props.alias, r"(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}", "an alias name")
    problems.one_of("runtime", props.runtime, defaults.SUPPORTED_RUNTIMES)
    problems.within("memory_mb", props.memory_mb, 128, 10240, "MB")
    problems.within("timeout_seconds", props.timeout_seconds, 1, 900, "seconds")
    problems.one_of("log_retention_days", props.log_retention_days, defaults.LOG_RETENTION_CHOICES)
    if props.reserved_concurrency is not None:
        problems.within("reserved_concurrency", props.reserved_concurrency, 1, 10000)
    for environment in ENVIRONMENTS:
        settings = props.settings(environment)
        shift = settings.deployment_config
        if isinstance(shift, TrafficShift):
            problems.one_of(
                f"{environment}.deployment_config.kind", shift.kind, ("canary", "linear")
            )
            problems.within(
                f"{environment}.deployment_config.percentage", shift.percentage, 1, 99, "percent"
            )
            problems.within(
                f"{environment}.deployment_config.interval_minutes",
                shift.interval_minutes,
                1,
                2880,
                "minutes",
            )
        else:
            problems.one_of(
                f"{environment}.deployment_config", shift, defaults.LAMBDA_DEPLOYMENT_CONFIGS
            )
        alarms = settings.alarms
        problems.within(
            f"{environment}.alarms.errors_threshold", alarms.errors_threshold, 1, 100000
        )
        problems.within(
            f"{environment}.alarms.throttles_threshold", alarms.throttles_threshold, 1, 100000
        )
        problems.within(
            f"{environment}.alarms.evaluation_periods", alarms.evaluation_periods, 1, 100
        )
        if alarms.period_seconds % 60 or not 60 <= alarms.period_seconds <= 86400:
            problems.add(
                f"{environment}.alarms.period_seconds is {alarms.period_seconds!r}; "
                "expected a multiple of 60 from 60 to 86400"
            )
        for event, hook in (
            ("before_allow_traffic", settings.before_allow_traffic),
            ("after_allow_traffic", settings.after_allow_traffic),
        ):
            if hook is not None and hook != SMOKE_TESTS:
                problems.pattern(
                    f"{environment}.{event}",
                    hook,
                    FUNCTION_NAME,
                    f"{SMOKE_TESTS!r} or {FUNCTION_NAME_ACCEPTED}",
                )
        for name in alarms.extra_alarm_names:
            problems.pattern(
                f"{environment}.alarms.extra_alarm_names item",
                name,
                r"[^\s:][^:]{0,254}",
                "a CloudWatch alarm name (not an ARN)",
            )
        for variable in settings.variables:
            problems.pattern(
                f"{environment}.variables key",
                variable,
                ENV_VAR_NAME,
                "a letter then letters, digits or '_'",
            )
            if variable in RESERVED_ENV_VARS:
                problems.add(f"{environment}.variables sets {variable}, which Lambda reserves")
    problems.pattern("name", f"{props.name}-production", FUNCTION_NAME, FUNCTION_NAME_ACCEPTED)
    problems.raise_if_any()


def runs_library_hook(props: ApplicationProps) -> bool:
    """Whether any environment's deployments run the library's smoke-test hook."""
    return any(SMOKE_TESTS in props.settings(e).chosen_hooks().values() for e in ENVIRONMENTS)


def placeholder_code(handler: str) -> bytes:
    """The code a new function starts with: the handler answers that nothing is released yet.
    The pipeline replaces it, and Terraform ignores the code from then on."""
    module, _, function = handler.rpartition(".")
    source = (
        f"def {function}(event, context):\n"
        "    raise RuntimeError('No release has been deployed to this function yet.')\n"
    )
    return zip_bytes([(module.replace(".", "/") + ".py", source.encode())])

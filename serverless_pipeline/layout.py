"""The layout of a pipeline, computed once from its configuration.

The synthesized stack and the rehearsal's emulated account are two renderings of this one model:
every name, deployment config, alarm, rollback event, timeout and handler setting a release
meets is decided here, so the account a rehearsal runs in is the account `cdktf deploy` builds.
Plain values only: no cdktf, no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import defaults, naming
from .alarms import AlarmSpec, alarm_specs, watched_alarm_names
from .application_settings import ApplicationProps, TrafficShift, runs_library_hook
from .config import PipelineConfig


@dataclass(frozen=True)
class EnvironmentLayout:
    """One environment of the application: its function, alias and deployment group."""

    name: str
    function_name: str
    alias: str
    deployment_group: str
    deployment_config: str
    """The name CodeDeploy knows the traffic shift by (predefined, or the custom config's)."""
    custom_shift: TrafficShift | None
    """The custom traffic shift the pipeline creates a deployment config for, if any."""
    variables: Mapping[str, str]
    alarms: tuple[AlarmSpec, ...]
    """The alarms the pipeline creates for this environment."""
    watched_alarms: tuple[str, ...]
    """Every alarm that stops a deployment: the pipeline's and the user's own."""
    rollback_events: tuple[str, ...]
    """The events on which CodeDeploy rolls a deployment back by itself."""
    hooks: Mapping[str, str]
    """Lifecycle event -> hook function, the library's hook resolved to its function name."""


@dataclass(frozen=True)
class ApplicationLayout:
    """The application's functions and CodeDeploy application, one entry per environment."""

    name: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_seconds: int
    alias: str
    environments: tuple[EnvironmentLayout, ...]

    def environment(self, name: str) -> EnvironmentLayout:
        return next(e for e in self.environments if e.name == name)


def deployment_config_name(application: str, environment: str, shift: str | TrafficShift) -> str:
    """A predefined config's own name; a custom shift's config is named for its environment."""
    if isinstance(shift, TrafficShift):
        return f"{application}-{environment}-{shift.config_name}"
    return shift


def rollback_events(watched_alarms: tuple[str, ...]) -> tuple[str, ...]:
    """CodeDeploy rolls back a failed or stopped deployment, and one an alarm stopped."""
    alarm = ("DEPLOYMENT_STOP_ON_ALARM",) if watched_alarms else ()
    return ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", *alarm)


def application_layout(props: ApplicationProps, library_hook: str | None) -> ApplicationLayout:
    """The application as both renderings build it; `library_hook` is the function name of the
    library's traffic hook where an environment chose SMOKE_TESTS."""
    environments = []
    for name in naming.ENVIRONMENTS:
        settings = props.settings(name)
        function_name = naming.app_function(props.name, name)
        watched = tuple(watched_alarm_names(function_name, props.alias, settings.alarms))
        shift = settings.deployment_config
        environments.append(
            EnvironmentLayout(
                name=name,
                function_name=function_name,
                alias=props.alias,
                deployment_group=naming.deployment_group(props.name, name),
                deployment_config=deployment_config_name(props.name, name, shift),
                custom_shift=shift if isinstance(shift, TrafficShift) else None,
                variables=dict(settings.variables),
                alarms=tuple(alarm_specs(function_name, props.alias, settings.alarms)),
                watched_alarms=watched,
                rollback_events=rollback_events(watched),
                hooks=settings.hooks(library_hook),
            )
        )
    return ApplicationLayout(
        name=props.name,
        handler=props.handler,
        runtime=props.runtime,
        memory_mb=props.memory_mb,
        timeout_seconds=props.timeout_seconds,
        alias=props.alias,
        environments=tuple(environments),
    )


@dataclass(frozen=True)
class HandlersLayout:
    """The pipeline's handler functions and the candidate function that runs release code."""

    prefix: str
    functions: Mapping[str, str]
    """Handler -> function name; the traffic hook only where an environment uses it."""
    candidate_function: str
    runtime: str
    memory_mb: int
    timeout_seconds: int
    test_case_timeout_seconds: int
    deployment_timeout_seconds: int
    test_manifest: str

    @property
    def task_timeout_seconds(self) -> int:
        """A state machine task waits for its function's timeout and a minute for Lambda."""
        return self.timeout_seconds + 60

    def environment(
        self,
        application: ApplicationLayout,
        *,
        artifact_bucket: str,
        buckets: Mapping[str, str],
        notification_topic: str,
    ) -> dict[str, str]:
        """The handlers' environment variables (read by handlers/settings.py)."""
        return naming.handler_environment(
            artifact_bucket=artifact_bucket,
            app_handler=application.handler,
            test_manifest=self.test_manifest,
            application=application.name,
            alias=application.alias,
            buckets=buckets,
            deployment_timeout_seconds=self.deployment_timeout_seconds,
            candidate_function=self.candidate_function,
            notification_topic=notification_topic,
            hooks={e.name: e.hooks for e in application.environments},
        )


def handlers_layout(
    prefix: str,
    application: ApplicationProps,
    *,
    runtime: str = defaults.LAMBDA_RUNTIME,
    memory_mb: int = defaults.HANDLER_MEMORY_MB,
    timeout_seconds: int = defaults.HANDLER_TIMEOUT_SECONDS,
    test_case_timeout_seconds: int = defaults.TEST_CASE_TIMEOUT_SECONDS,
    deployment_timeout_seconds: int = defaults.DEPLOYMENT_TIMEOUT_SECONDS,
    test_manifest: str = "release-tests.json",
) -> HandlersLayout:
    hook = ("traffic_hook",) if runs_library_hook(application) else ()
    return HandlersLayout(
        prefix=prefix,
        functions={h: naming.handler_function(prefix, h) for h in (*naming.HANDLER_NAMES, *hook)},
        candidate_function=naming.candidate_function(prefix),
        runtime=runtime,
        memory_mb=memory_mb,
        timeout_seconds=timeout_seconds,
        test_case_timeout_seconds=test_case_timeout_seconds,
        deployment_timeout_seconds=deployment_timeout_seconds,
        test_manifest=test_manifest,
    )


@dataclass(frozen=True)
class PipelineLayout:
    """A whole pipeline as `ServerlessPipeline` builds it from one `PipelineConfig`."""

    application: ApplicationLayout
    handlers: HandlersLayout
    state_machine: str
    notification_topic: str
    poll_interval_seconds: int
    approval_timeout_seconds: int | None


def pipeline_layout(config: PipelineConfig) -> PipelineLayout:
    handlers = handlers_layout(
        config.name,
        config.application,
        deployment_timeout_seconds=config.deployment_timeout_seconds,
        test_manifest=config.test_manifest,
    )
    hook = handlers.functions.get("traffic_hook")
    return PipelineLayout(
        application=application_layout(config.application, hook),
        handlers=handlers,
        state_machine=naming.state_machine(config.name),
        notification_topic=naming.notification_topic(config.name),
        poll_interval_seconds=config.poll_interval_seconds,
        approval_timeout_seconds=config.approval_timeout_seconds,
    )

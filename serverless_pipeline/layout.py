"""The layout of a pipeline, computed once from its configuration.

The synthesized stack and the rehearsal's emulated account are two renderings of this one model:
every name, deployment config, alarm, rollback event, timeout and handler setting a release
meets is decided here, so the account a rehearsal runs in is the account `cdktf deploy` builds.
Plain values only: no engine, no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import defaults, naming
from .alarms import OWN_ALARMS, AlarmSpec, alarm_specs, watched_alarm_names
from .application_settings import (
    IMAGE,
    SMOKE_TESTS,
    ApplicationProps,
    DeploymentWindow,
    FunctionSettings,
    TrafficShift,
    VpcConfig,
)
from .application_settings import function_name as application_function_name
from .asl import Stage
from .asl import gate_seconds as asl_gate_seconds
from .config import PipelineConfig
from .handlers.runtimes import DEFAULT_ARCHITECTURE
from .validation import partition_of


@dataclass(frozen=True)
class FunctionLayout:
    """One function of the application in one environment: the function, its alias's alarms
    and its deployment group."""

    key: str
    """The function's name in the configuration (the application's, in the single form)."""
    construct_id: str
    """Prefix of its construct ids: the environment (single form), or <environment>-<key>."""
    function_name: str
    deployment_group: str
    handler: str
    runtime: str
    """Empty for an image function: the image brings its runtime."""
    architecture: str
    layers: tuple[str, ...]
    package_type: str
    """"Zip" or "Image" (FunctionSettings.package_type)."""
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int | None
    vpc: VpcConfig | None
    """The environment's VPC, where the function runs in it (FunctionSettings.in_vpc)."""
    variables: Mapping[str, str]
    alarms: tuple[AlarmSpec, ...]
    """The alarms the pipeline creates for this function in this environment."""
    watched_alarms: tuple[str, ...]
    """Every alarm that stops its deployment: the pipeline's and the user's own."""
    rollback_events: tuple[str, ...]
    """The events on which CodeDeploy rolls a deployment back by itself."""


@dataclass(frozen=True)
class Placement:
    """Where an environment outside the pipeline's account and region lives: Terraform creates
    it through a provider of its own, and the handlers act there only through its deployment
    role."""

    account_id: str | None
    """None: the pipeline's account."""
    region: str | None
    """None: the pipeline's region."""
    terraform_role_arn: str | None
    provider_alias: str
    deployment_role: str

    def partition(self, pipeline_partition: str) -> str:
        return partition_of(self.region) if self.region else pipeline_partition

    def deployment_role_arn(self, pipeline_account: str, pipeline_partition: str) -> str:
        """The role's ARN; the pipeline's account and partition (values or tokens) fill in
        what the environment does not name."""
        account = self.account_id or pipeline_account
        return (
            f"arn:{self.partition(pipeline_partition)}:iam::{account}:role/{self.deployment_role}"
        )


@dataclass(frozen=True)
class EnvironmentLayout:
    """One environment: its traffic shift, hooks and approval, and every function in it."""

    name: str
    title: str
    """The environment in state names: Deploy<Title>, RunTestsIn<Title>."""
    alias: str
    deployment_config: str
    """The name CodeDeploy knows the traffic shift by (predefined, or the custom config's)."""
    custom_shift: TrafficShift | None
    """The custom traffic shift the pipeline creates a deployment config for, if any."""
    hooks: Mapping[str, str]
    """Lifecycle event -> hook function, the library's hook resolved to its function name."""
    own_hooks: tuple[str, ...]
    """The user's own hook functions, which the environment's CodeDeploy roles may invoke."""
    runs_library_hook: bool
    library_hook: str | None
    """The library's hook function this environment's deployments run, once it has a name."""
    approval_timeout_seconds: int | None
    """Wait this long at most for a person's approval before deploying here; None: no gate."""
    functions: tuple[FunctionLayout, ...]
    bake_seconds: int
    """How long a release bakes here under watch after its deployment; 0: not at all."""
    window: DeploymentWindow | None
    """When the environment may be deployed; None: any time."""
    placement: Placement | None
    """Where it lives when not in the pipeline's account and region; None: with the pipeline."""

    def function(self, key: str) -> FunctionLayout:
        return next(f for f in self.functions if f.key == key)


@dataclass(frozen=True)
class ApplicationLayout:
    """The application's functions and CodeDeploy application, one entry per environment."""

    name: str
    runtime: str
    alias: str
    single_function: bool
    functions: Mapping[str, FunctionSettings]
    """Function name -> settings, in order (the first is the default of test cases), each with
    its runtime."""
    environments: tuple[EnvironmentLayout, ...]

    def environment(self, name: str) -> EnvironmentLayout:
        return next(e for e in self.environments if e.name == name)

    @property
    def environment_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.environments)

    @property
    def handlers(self) -> tuple[str, ...]:
        return tuple(f.handler for f in self.functions.values())

    @property
    def first(self) -> FunctionSettings:
        """The first zip function: what the candidate function starts as."""
        return next(f for f in self.functions.values() if f.package_type != IMAGE)

    @property
    def zipped(self) -> bool:
        """Whether any function runs from the release zip (the candidate function runs their
        cases)."""
        return any(f.package_type != IMAGE for f in self.functions.values())

    @property
    def first_image(self) -> FunctionSettings | None:
        """The first image function, what the image candidate starts as; None: no function is
        an image."""
        return next((f for f in self.functions.values() if f.package_type == IMAGE), None)

    @property
    def largest_memory_mb(self) -> int:
        """The candidate function runs every function's cases: it starts with the most memory."""
        return max(f.memory_mb for f in self.functions.values())

    def bake(self) -> dict[str, int]:
        """Environment -> seconds a release bakes there (asl.compose's `bake`)."""
        return {e.name: e.bake_seconds for e in self.environments}

    def watched_alarms(self, environment: str) -> list[str]:
        """Every alarm that watches the environment's functions (for its gates and bake)."""
        return list(
            dict.fromkeys(
                a for f in self.environment(environment).functions for a in f.watched_alarms
            )
        )

    def stages(self, last_approval: int | None = None) -> list[Stage]:
        """(environment, approval timeout) in order, what asl.compose builds the state machine
        from; `last_approval` gates the last environment where it has no approval of its own."""
        stages = [(e.name, e.approval_timeout_seconds) for e in self.environments]
        if last_approval is not None:
            stages[-1] = (stages[-1][0], last_approval)
        return stages

    def targets(self) -> list[tuple[EnvironmentLayout, FunctionLayout]]:
        """Every function in every environment, environment by environment."""
        return [(e, f) for e in self.environments for f in e.functions]

    @property
    def placed(self) -> tuple[EnvironmentLayout, ...]:
        """The environments that live outside the pipeline's account and region."""
        return tuple(e for e in self.environments if e.placement is not None)

    def acting_handlers(self, environment: str) -> tuple[str, ...]:
        """The handlers that act in an environment elsewhere, through its deployment role:
        promote and rollback, and run_tests where RunTestsIn<Env> tests it (all but the last)."""
        tested = environment in self.environment_names[:-1]
        return ("promote", "rollback", *(("run_tests",) if tested else ()))

    @property
    def claims_environment(self) -> str | None:
        """Whose bucket holds the pipeline's claim: the first environment's, unless it lives
        elsewhere (None: the artifact bucket, in the pipeline's own account)."""
        first = self.environments[0]
        return None if first.placement else first.name

    @property
    def approvals_environment(self) -> str | None:
        """Whose bucket holds pending approvals: the last environment's, unless it lives
        elsewhere (None: the artifact bucket)."""
        last = self.environments[-1]
        return None if last.placement else last.name


def deployment_config_name(application: str, environment: str, shift: str | TrafficShift) -> str:
    """A predefined config's own name; a custom shift's config is named for its environment."""
    if isinstance(shift, TrafficShift):
        return f"{application}-{environment}-{shift.config_name}"
    return shift


def rollback_events(watched_alarms: tuple[str, ...]) -> tuple[str, ...]:
    """CodeDeploy rolls back a failed or stopped deployment, and one an alarm stopped."""
    alarm = ("DEPLOYMENT_STOP_ON_ALARM",) if watched_alarms else ()
    return ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", *alarm)


def application_layout(
    props: ApplicationProps,
    library_hook: str | None,
    approval_timeout_seconds: int | None = None,
) -> ApplicationLayout:
    """The application as both renderings build it; `library_hook` is the function name of the
    library's traffic hook where an environment chose SMOKE_TESTS, `approval_timeout_seconds`
    the pipeline's approval before the last of the default pair of environments."""
    environments = []
    chosen = props.environment_list(approval_timeout_seconds)
    functions = props.function_settings()
    for index, settings in enumerate(chosen):
        name = settings.name
        shift = settings.shift(index == len(chosen) - 1)
        placed = []
        for key, function in functions.items():
            function_name = application_function_name(props, key, name)
            watched = tuple(watched_alarm_names(function_name, props.alias, settings.alarms))
            placed.append(
                FunctionLayout(
                    key=key,
                    construct_id=name if props.single_function else f"{name}-{key}",
                    function_name=function_name,
                    deployment_group=function_name,
                    handler=function.handler,
                    runtime=""
                    if function.package_type == IMAGE
                    else function.runtime or props.runtime,
                    architecture=function.architecture,
                    layers=tuple(function.layers),
                    package_type=function.package_type,
                    memory_mb=function.memory_mb,
                    timeout_seconds=function.timeout_seconds,
                    reserved_concurrency=function.reserved_concurrency,
                    vpc=settings.vpc if function.in_vpc else None,
                    variables={**function.variables, **settings.variables},
                    alarms=tuple(alarm_specs(function_name, props.alias, settings.alarms)),
                    watched_alarms=watched,
                    rollback_events=rollback_events(watched),
                )
            )
        hooks = settings.chosen_hooks()
        placement = None
        if settings.placed:
            placement = Placement(
                account_id=settings.account_id,
                region=settings.region,
                terraform_role_arn=settings.terraform_role_arn,
                provider_alias=naming.provider_alias(
                    props.name, settings.account_id, settings.region
                ),
                deployment_role=naming.deployment_role(props.name, name),
            )
        # CodeDeploy runs a hook where the deployment runs: an environment elsewhere has the
        # library's hook of its own.
        hook = (
            naming.placed_traffic_hook(library_hook, name)
            if placement and library_hook
            else library_hook
        )
        environments.append(
            EnvironmentLayout(
                name=name,
                title=naming.state_title(name),
                alias=props.alias,
                deployment_config=deployment_config_name(props.name, name, shift),
                custom_shift=shift if isinstance(shift, TrafficShift) else None,
                hooks=settings.hooks(hook),
                own_hooks=tuple(sorted({f for f in hooks.values() if f != SMOKE_TESTS})),
                runs_library_hook=SMOKE_TESTS in hooks.values(),
                library_hook=hook if SMOKE_TESTS in hooks.values() else None,
                approval_timeout_seconds=settings.approval_timeout_seconds,
                functions=tuple(placed),
                bake_seconds=settings.bake_minutes * 60,
                window=settings.deployment_window,
                placement=placement,
            )
        )
    return ApplicationLayout(
        name=props.name,
        runtime=props.runtime,
        alias=props.alias,
        single_function=props.single_function,
        functions=functions,
        environments=tuple(environments),
    )


# Lambda: "The total size of all environment variables doesn't exceed 4 KB" (Lambda quotas).
LAMBDA_ENVIRONMENT_BYTES = 4096


@dataclass(frozen=True)
class HandlersLayout:
    """The pipeline's handler functions and the candidate function that runs release code."""

    prefix: str
    functions: Mapping[str, str]
    """Handler -> function name; the traffic hook only where an environment in the pipeline's
    account and region uses it."""
    placed_hooks: Mapping[str, str]
    """Environment -> its own library traffic hook, for the environments elsewhere that run
    it."""
    candidate_function: str
    image_candidate_function: str | None
    """The candidate that runs the image functions' cases; None: no function is an image."""
    runtime: str
    memory_mb: int
    timeout_seconds: int
    test_case_timeout_seconds: int
    deployment_timeout_seconds: int
    test_manifest: str
    line_switch: str
    """The stop-the-line SSM parameter."""
    line_wait_seconds: int
    """How long a release waits for a stopped line before it fails."""

    @property
    def task_timeout_seconds(self) -> int:
        """A state machine task waits for its function's timeout and a minute for Lambda."""
        return self.timeout_seconds + defaults.TASK_MARGIN_SECONDS

    def environment(
        self,
        application: ApplicationLayout,
        *,
        artifact_bucket: str,
        buckets: Mapping[str, str],
        notification_topic: str,
        pipeline_account: str,
        pipeline_partition: str,
        image_repository: str | None = None,
    ) -> dict[str, str]:
        """The handlers' environment variables (read by handlers/settings.py); the pipeline's
        account and partition (values or tokens) complete the deployment roles' ARNs;
        `image_repository` is the URL of the repository of the release images, where some
        function is an image."""
        records = {
            key: artifact_bucket
            for key, environment in (
                ("claims", application.claims_environment),
                ("approvals", application.approvals_environment),
            )
            if environment is None
        }
        return naming.handler_environment(
            artifact_bucket=artifact_bucket,
            test_manifest=self.test_manifest,
            application={
                "name": application.name,
                "alias": application.alias,
                "function_names": naming.SINGLE_FUNCTION_NAMES
                if application.single_function
                else naming.FUNCTION_NAMES,
                "functions": [
                    {"name": key, "handler": f.handler, "memory_mb": f.memory_mb, **_code(f)}
                    for key, f in application.functions.items()
                ],
                "environments": [
                    {
                        "name": e.name,
                        "bucket": buckets[e.name],
                        "hooks": dict(e.hooks),
                        **_placement_settings(e.placement, pipeline_account, pipeline_partition),
                        **_gate_settings(e),
                    }
                    for e in application.environments
                ],
                **records,
                "line": {"parameter": self.line_switch, "wait": self.line_wait_seconds},
            },
            deployment_timeout_seconds=self.deployment_timeout_seconds,
            candidate_function=self.candidate_function,
            notification_topic=notification_topic,
            images={
                "IMAGE_CANDIDATE_FUNCTION": self.image_candidate_function,
                "IMAGE_REPOSITORY": image_repository,
            }
            if self.image_candidate_function and image_repository
            else {},
        )

    def environment_size_problem(self, application: ApplicationLayout) -> str | None:
        """Why the handlers' variables would not fit Lambda's 4 KB, or None. Measured with the
        longest names AWS allows where the stack has not named them yet (buckets, topic)."""
        variables = self.environment(
            application,
            artifact_bucket="b" * 63,
            buckets={name: "b" * 63 for name in application.environment_names},
            notification_topic="t" * 256,
            pipeline_account="1" * 12,
            pipeline_partition="aws-us-gov",
            # <account>.dkr.ecr.<region>.amazonaws.com/<prefix>-images, at its longest
            image_repository="r" * 100,
        )
        size = sum(len(key) + len(value.encode()) for key, value in variables.items())
        if size <= LAMBDA_ENVIRONMENT_BYTES:
            return None
        return (
            f"the handlers' environment variables would take up to {size} bytes with "
            f"{len(application.functions)} functions in {len(application.environments)} "
            f"environments, more than Lambda's {LAMBDA_ENVIRONMENT_BYTES}; use fewer or shorter "
            "function, handler or environment names, or fewer hooks"
        )


def deployment_role_trust(role_arns: list[str]) -> dict[str, Any]:
    """The trust policy of a deployment role: only these roles (the acting handlers') may
    assume it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": role_arns}, "Action": "sts:AssumeRole"}
        ],
    }


def _code(function: FunctionSettings) -> dict[str, Any]:
    """What run_tests and validate need of a function's code beyond its handler: its runtime,
    architecture and layers (an image function's package type instead of a runtime), each only
    where it is not the default (so that 20 functions still
    fit Lambda's 4 KB of variables)."""
    code: dict[str, Any] = {}
    if function.package_type == IMAGE:
        code["package_type"] = IMAGE
    elif function.runtime != defaults.LAMBDA_RUNTIME:
        code["runtime"] = function.runtime
    if function.architecture != DEFAULT_ARCHITECTURE:
        code["architecture"] = function.architecture
    if function.layers:
        code["layers"] = list(function.layers)
    return code


def _gate_settings(environment: EnvironmentLayout) -> dict[str, Any]:
    """What the gates need that the handlers cannot derive: alarms other than the pipeline's
    own pair per function, and the deployment window (nothing for the defaults, so that 20
    functions in 10 environments still fit Lambda's 4 KB)."""
    gate: dict[str, Any] = {}
    first = environment.functions[0]
    own = [a.name.removeprefix(f"{first.function_name}-") for a in first.alarms]
    extra = [a for a in first.watched_alarms if a not in {s.name for s in first.alarms}]
    if own != list(OWN_ALARMS) or extra:
        gate["alarms"] = {"own": own, "extra": extra}
    window = environment.window
    if window is not None:
        gate["window"] = {
            "days": list(window.days),
            "start": window.start,
            "end": window.end,
            "zone": window.time_zone,
            "calendar": window.change_calendar,
            "wait": window.max_wait_minutes * 60,
        }
    return gate


def _placement_settings(
    placement: Placement | None, pipeline_account: str, pipeline_partition: str
) -> dict[str, str]:
    """What the handlers need to act in an environment elsewhere: its role and region."""
    if placement is None:
        return {}
    role = {"role": placement.deployment_role_arn(pipeline_account, pipeline_partition)}
    return {**role, "region": placement.region} if placement.region else role


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
    line_wait_minutes: int = defaults.LINE_WAIT_MINUTES,
) -> HandlersLayout:
    hooked = [e for e in application.environment_list() if SMOKE_TESTS in e.chosen_hooks().values()]
    hook = ("traffic_hook",) if any(not e.placed for e in hooked) else ()
    return HandlersLayout(
        prefix=prefix,
        functions={h: naming.handler_function(prefix, h) for h in (*naming.HANDLER_NAMES, *hook)},
        placed_hooks={
            e.name: naming.placed_traffic_hook(
                naming.handler_function(prefix, "traffic_hook"), e.name
            )
            for e in hooked
            if e.placed
        },
        candidate_function=naming.candidate_function(prefix),
        image_candidate_function=naming.image_candidate_function(prefix)
        if application.image_architecture() is not None
        else None,
        runtime=runtime,
        memory_mb=memory_mb,
        timeout_seconds=timeout_seconds,
        test_case_timeout_seconds=test_case_timeout_seconds,
        deployment_timeout_seconds=deployment_timeout_seconds,
        test_manifest=test_manifest,
        line_switch=naming.line_switch(prefix),
        line_wait_seconds=line_wait_minutes * 60,
    )


@dataclass(frozen=True)
class PipelineLayout:
    """A whole pipeline as `ServerlessPipeline` builds it from one `PipelineConfig`."""

    application: ApplicationLayout
    handlers: HandlersLayout
    state_machine: str
    notification_topic: str
    poll_interval_seconds: int
    gate_seconds: int
    """The longest a release may spend at the gates (asl.execution_timeout_seconds)."""


def gate_seconds(application: ApplicationLayout, handlers: HandlersLayout) -> int:
    """The longest a release may spend at the gates (asl.gate_seconds)."""
    return asl_gate_seconds(
        [e.bake_seconds for e in application.environments],
        [e.window.max_wait_minutes * 60 if e.window else 0 for e in application.environments],
        handlers.line_wait_seconds,
        handlers.task_timeout_seconds,
    )


def pipeline_layout(config: PipelineConfig) -> PipelineLayout:
    application = config.application_props()
    handlers = handlers_layout(
        config.name,
        application,
        deployment_timeout_seconds=config.deployment_timeout_seconds,
        test_manifest=config.test_manifest,
        line_wait_minutes=config.line_wait_minutes,
    )
    hook = naming.handler_function(config.name, "traffic_hook")
    app = application_layout(application, hook, config.approval_timeout_seconds)
    return PipelineLayout(
        application=app,
        handlers=handlers,
        state_machine=naming.state_machine(config.name),
        notification_topic=naming.notification_topic(config.name),
        poll_interval_seconds=config.poll_interval_seconds,
        gate_seconds=gate_seconds(app, handlers),
    )


# Step Functions sends every execution's status changes to EventBridge's default bus; the
# cleanup rule takes the endings that are not a success.
CLEANUP_STATUSES = ("ABORTED", "FAILED", "TIMED_OUT")


def cleanup_rule_pattern(state_machine_arn: str) -> dict[str, Any]:
    """The event pattern of the rule that sends an unfinished execution to rollback."""
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": list(CLEANUP_STATUSES), "stateMachineArn": [state_machine_arn]},
    }


def cleanup_rule_name(state_machine: str) -> str:
    return f"{state_machine}-cleanup"

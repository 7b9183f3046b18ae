"""What a user says about the application being deployed: its functions' settings, each
environment's traffic shifting, alarms and hooks. Plain values, checked here, that the
ServerlessApplication construct and the rehearsal both lay out."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import asl, defaults, naming
from .alarms import AlarmSettings
from .assets import zip_bytes
from .handlers import runtimes
from .handlers.events import RELEASE_LAYER
from .handlers.runtimes import DEFAULT_ARCHITECTURE
from .validation import (
    ACCOUNT_ID,
    ACCOUNT_ID_ACCEPTED,
    AWS_REGIONS,
    FUNCTION_NAME,
    FUNCTION_NAME_ACCEPTED,
    NAME_PREFIX,
    NAME_PREFIX_ACCEPTED,
    Problems,
    partition_of,
)

ENV_VAR_NAME = r"[a-zA-Z][a-zA-Z0-9_]+"
# Names of functions and environments: parts of function, group, bucket, construct and state
# names. Words joined by single '-': a doubled or trailing '-' would let two names spell the
# same state name (Deploy<Env> of "eu-west" and "eu--west").
COMPONENT_NAME = r"(?=.{1,20}$)[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
COMPONENT_NAME_ACCEPTED = (
    "1-20 lowercase letters or digits, starting with a letter, in words joined by single '-'"
)
# <prefix>-<environment>- is a bucket prefix, which Terraform caps at 37 characters.
ENVIRONMENT_NAME = r"(?=.{1,15}$)[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
ENVIRONMENT_NAME_ACCEPTED = (
    "1-15 lowercase letters or digits, starting with a letter, in words joined by single '-'"
)
# The pipeline's own buckets are named like environment buckets (<prefix>-<role>-), and the
# application's own constructs have these ids beside the single form's environments.
RESERVED_ENVIRONMENT_NAMES = ("artifacts", "access-logs", "codedeploy", "placeholder-code")
# Construct ids the pipeline derives from an environment or function name by a suffix: a name
# that already ends like one would give two resources one id.
RESERVED_ID_SUFFIXES = (
    "-access-logs",
    "-alias",
    "-deployer",
    "-deployment-group",
    "-deployment-config",
    "-errors-alarm",
    "-throttles-alarm",
    "-versioning",
    "-encryption",
    "-public-access",
    "-ownership",
    "-policy",
    "-policy-document",
    "-events",
    "-lifecycle",
    "-logging",
)
# CodeDeploy: "You can add up to 10 alarms" to a deployment group.
MAX_GROUP_ALARMS = 10
MAX_FUNCTIONS = 20
MAX_ENVIRONMENTS = 10
# <function>-codedeploy, the name of its CodeDeploy role, must fit IAM's 64 characters.
MAX_FUNCTION_NAME = 64 - len("-codedeploy")
# Choose the library's own traffic hook (HandlerFunctions.traffic_hook).
SMOKE_TESTS = "smoke-tests"
"""A traffic hook (`before_allow_traffic`, `after_allow_traffic`) that names the library's own
hook: it runs the release's cases marked `"stages": ["smoke"]` against the version being
deployed and reports to CodeDeploy; any other value names your own hook function."""
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


# A predefined Lambda config's name, or the name the pipeline gives a custom TrafficShift's
# config (<application>-<environment>-<TrafficShift.config_name>).
_SHIFT_NAME = re.compile(
    r"(?:CodeDeployDefault\.Lambda|.+-)(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Min(?:utes?)?"
)


def shift_minutes(config: str | TrafficShift) -> int | None:
    """How long a deployment config takes to move all traffic, in minutes (None for a name
    this library does not know): a canary waits one interval, a linear shift takes one interval
    per step after the first. A config name the pipeline created is read like the predefined
    ones (the emulated CodeDeploy knows configs by name only)."""
    if isinstance(config, TrafficShift):
        kind, percentage, interval = config.kind, config.percentage, config.interval_minutes
        if kind not in ("canary", "linear") or not (1 <= percentage <= 99 and interval >= 1):
            return None  # validate_props names the problem
    elif config == "CodeDeployDefault.LambdaAllAtOnce":
        return 0
    elif match := _SHIFT_NAME.fullmatch(config):
        kind, percentage, interval = match[1].lower(), int(match[2]), int(match[3])
    else:
        return None
    if kind == "canary":
        return interval
    return (-(-100 // percentage) - 1) * interval


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CLOCK_TIME = r"([01]\d|2[0-3]):[0-5]\d|24:00"
CALENDAR = r"[A-Za-z0-9_.-]{3,128}|arn:[\w-]+:ssm:[a-z0-9-]+:\d{12}:document/[A-Za-z0-9_.-]{3,128}"
# Bounds of the waits before an environment: long enough for a weekend, short enough for
# CodePipeline's 7-day action timeout.
MAX_WINDOW_WAIT_MINUTES = 4320
MAX_BAKE_MINUTES = 1440


@dataclass(frozen=True)
class DeploymentWindow:
    """When an environment may be deployed: days and hours in a time zone, and/or an SSM
    Change Calendar that must be OPEN. Outside it a release waits for it to open, up to
    `max_wait_minutes`, then fails with OutsideDeploymentWindow (and rolls back)."""

    days: Sequence[str] = WEEKDAYS
    """Days a deployment may start, of Mon Tue Wed Thu Fri Sat Sun; omitted: every day."""
    start: str = "00:00"
    """Time of day (HH:MM, in `time_zone`) from which it may start; omitted: midnight."""
    end: str = "24:00"
    """Time of day before which it must start; omitted: the end of the day."""
    time_zone: str = "UTC"
    """IANA time zone of `start` and `end`, e.g. Europe/Berlin."""
    change_calendar: str | None = None
    """Name (or ARN) of an SSM Change Calendar in the environment's account and region that
    must be OPEN; omitted: none."""
    max_wait_minutes: int = 1440
    """How long a release waits for the window to open before it fails (1-4320)."""


class _TrafficHooks:
    """The hook choices of an environment, shared by `Environment` and `EnvironmentSettings`."""

    before_allow_traffic: str | None
    after_allow_traffic: str | None

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
class VpcConfig:
    """The VPC an environment's functions run in: Lambda gives each function network interfaces
    in these subnets, with these security groups, so it reaches what the VPC holds (databases,
    caches, internal services). Outside the VPC a function reaches the internet and AWS APIs
    only through the VPC's own routes (a NAT gateway, VPC endpoints)."""

    subnet_ids: Sequence[str]
    """1-16 subnets (subnet-...), in two Availability Zones or more for Lambda to keep the
    function running when one zone fails."""
    security_group_ids: Sequence[str]
    """1-5 security groups (sg-...) of the same VPC."""
    ipv6_allowed_for_dual_stack: bool = False
    """Let the functions reach IPv6 addresses through dual-stack subnets; omitted: IPv4 only."""


@dataclass(frozen=True)
class EnvironmentSettings(_TrafficHooks):
    """What differs between staging and production, in the single-function form
    (`ApplicationProps.staging` / `.production`); `Environment` is the general form."""

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
    bake_minutes: int = 0
    """Minutes the release stays here under watch after its deployment succeeded, before the
    next environment (or success); an alarm in ALARM meanwhile fails it with BakeAlarm and
    rolls it back everywhere. Omitted: no bake."""
    deployment_window: DeploymentWindow | None = None
    """When this environment may be deployed; omitted: any time."""
    vpc: VpcConfig | None = None
    """The VPC this environment's functions run in (each function may stay out with
    FunctionSettings.in_vpc=False); omitted: none."""


@dataclass(frozen=True)
class Environment(_TrafficHooks):
    """One environment a release goes through, in the order of `environments=`. Every function
    of the application is deployed to it with these settings (one deployment group each)."""

    name: str
    """1-15 lowercase letters, digits or '-', starting with a letter: part of function,
    deployment group, bucket and state names (Deploy<Name>, RunTestsIn<Name>)."""
    deployment_config: str | TrafficShift | None = None
    """How CodeDeploy shifts each function's alias: a predefined Lambda config or a custom
    TrafficShift. Omitted: a 10% canary for 5 minutes in the last environment (the one users
    are on), all at once in the others."""
    variables: Mapping[str, str] = field(default_factory=dict)
    """Environment variables of every function in this environment; omitted: none."""
    alarms: AlarmSettings = field(default_factory=AlarmSettings)
    """Alarms on each function's alias that stop and roll back a deployment; omitted: errors
    and throttles, one in a minute sets them off."""
    before_allow_traffic: str | None = None
    """CodeDeploy BeforeAllowTraffic hook of every function's deployment: SMOKE_TESTS for the
    library's hook, or your own hook function's name. Omitted: no hook."""
    after_allow_traffic: str | None = None
    """CodeDeploy AfterAllowTraffic hook, as `before_allow_traffic`; omitted: no hook."""
    approval_timeout_seconds: int | None = None
    """Wait for a person's approval before deploying here, rolling back after this many
    seconds without an answer (60-31536000); omitted: no approval."""
    bake_minutes: int = 0
    """Minutes the release stays here under watch after its deployment succeeded, before the
    next environment (or success), 0-1440; an alarm of the environment in ALARM meanwhile
    fails the release with BakeAlarm and rolls it back everywhere. Omitted: no bake."""
    deployment_window: DeploymentWindow | None = None
    """When this environment may be deployed; omitted: any time."""
    vpc: VpcConfig | None = None
    """The VPC every function of this environment runs in, in the environment's account and
    region (a function may stay out with FunctionSettings.in_vpc=False). Each such function's
    role may create, describe and delete the network interfaces Lambda needs, in these subnets
    and security groups only where AWS allows scoping. Omitted: none."""
    account_id: str | None = None
    """The AWS account the environment lives in, 12 digits; omitted: the pipeline's. Its
    functions, aliases, CodeDeploy application and groups, alarms, bucket and key are created
    there through `terraform_role_arn`, and the handlers reach them only through a deployment
    role the stack creates there."""
    region: str | None = None
    """The region the environment lives in; omitted: the pipeline's."""
    terraform_role_arn: str | None = None
    """The role in `account_id` that Terraform assumes to create the environment (you create it
    beforehand, like CDK's bootstrap roles); required with `account_id`."""

    @property
    def placed(self) -> bool:
        """Whether the environment lives outside the pipeline's account and region (with a
        provider, a key, a bucket and a deployment role of its own)."""
        return self.account_id is not None or self.region is not None

    def shift(self, last: bool) -> str | TrafficShift:
        """The deployment config, with the default for the environment's position."""
        if self.deployment_config is not None:
            return self.deployment_config
        return defaults.PRODUCTION_DEPLOYMENT_CONFIG if last else defaults.STAGING_DEPLOYMENT_CONFIG

    @classmethod
    def from_settings(
        cls, name: str, settings: EnvironmentSettings, approval_timeout_seconds: int | None = None
    ) -> Environment:
        """The general form of one environment of the single-function form."""
        return cls(
            name=name,
            deployment_config=settings.deployment_config,
            variables=settings.variables,
            alarms=settings.alarms,
            before_allow_traffic=settings.before_allow_traffic,
            after_allow_traffic=settings.after_allow_traffic,
            approval_timeout_seconds=approval_timeout_seconds,
            bake_minutes=settings.bake_minutes,
            deployment_window=settings.deployment_window,
            vpc=settings.vpc,
        )


# Lambda's two deployment package types (CreateFunction's PackageType).
ZIP = "Zip"
IMAGE = "Image"
PACKAGE_TYPES = (ZIP, IMAGE)


@dataclass(frozen=True)
class FunctionSettings:
    """One function of the application. Every function runs from the same release, each with its
    own handler, and is deployed to every environment: a zip function from the release zip, an
    image function from the release's container image (one image per release)."""

    handler: str
    """The function's handler in the release, module.function; validate checks every release
    has it. For an image function, the image's command (ImageConfig.Command), e.g.
    "app.handler" for an AWS base image."""
    memory_mb: int = 256
    """Memory, 128-10240 MB."""
    timeout_seconds: int = 30
    """Timeout, 1-900 s."""
    variables: Mapping[str, str] = field(default_factory=dict)
    """Environment variables of this function in every environment (the environment's own
    variables win on a clash); omitted: none."""
    reserved_concurrency: int | None = None
    """Concurrency reserved for this function in each environment; omitted: none reserved."""
    runtime: str | None = None
    """Lambda runtime of this function: nodejs22.x, nodejs24.x, python3.12-python3.14, java21,
    java25, dotnet10 or provided.al2023 (Go, Rust); the handler takes that runtime's form
    (index.handler for Node.js, example.Handler::handleRequest for Java, ...). Omitted: the
    application's `ApplicationProps.runtime`."""
    architecture: str = DEFAULT_ARCHITECTURE
    """Instruction set, "x86_64" or "arm64" (Graviton); validate refuses a release whose native
    files are built for the other one. Omitted: x86_64."""
    layers: Sequence[str] = ()
    """At most 5 layers, in the order Lambda extracts them: ARNs of layer versions
    (arn:aws:lambda:<region>:<account>:layer:<name>:<version>), and names of layers the build
    makes from the repository with each release (BuildSettings.layers), which the pipeline
    publishes beside the functions. Omitted: none. A layer given by ARN must be in the
    function's region; every layer must be built for the function's runtime and architecture."""
    in_vpc: bool = True
    """Run in the VPC of each environment that has one (Environment.vpc); False keeps the
    function out of every VPC, for one that needs the internet and no NAT gateway is there.
    Omitted: in the VPC where there is one."""
    package_type: str = ZIP
    """"Zip" (the release zip) or "Image" (the container image the build pushes to the
    pipeline's repository; `runtime` and `layers` are then not set: the image brings both, and
    `architecture` is the image's platform). Omitted: "Zip"."""


_SINGLE = FunctionSettings("app.handler")
_STAGING = EnvironmentSettings(defaults.STAGING_DEPLOYMENT_CONFIG)
_PRODUCTION = EnvironmentSettings(defaults.PRODUCTION_DEPLOYMENT_CONFIG)


@dataclass(frozen=True)
class ApplicationProps:
    """Props of `ServerlessApplication`: either one function (`handler=`, `memory_mb=`, ...)
    deployed to staging and production, or several (`functions=`) through any environments
    (`environments=`)."""

    name: str
    """Application name: the CodeDeploy application; functions are <name>-<environment> (one
    function) or <name>-<function>-<environment> (`functions=`)."""
    handler: str = _SINGLE.handler
    """The single function's handler, module.function; validate checks every release has it.
    Not with `functions=`."""
    runtime: str = defaults.LAMBDA_RUNTIME
    """Lambda runtime of the single function, and of every function of `functions=` that names
    none (FunctionSettings.runtime lists the runtimes)."""
    architecture: str = _SINGLE.architecture
    """Instruction set of the single function, "x86_64" or "arm64". Not with `functions=`."""
    layers: Sequence[str] = ()
    """Layer version ARNs of the single function (FunctionSettings.layers). Not with
    `functions=`."""
    memory_mb: int = _SINGLE.memory_mb
    """Memory of the single function, 128-10240 MB. Not with `functions=`."""
    timeout_seconds: int = _SINGLE.timeout_seconds
    """Timeout of the single function, 1-900 s. Not with `functions=`."""
    alias: str = "live"
    """The alias that serves traffic and that CodeDeploy shifts."""
    staging: EnvironmentSettings = field(default_factory=lambda: _STAGING)
    """Staging settings of the default pair; omitted: all-at-once deployments, no variables.
    Not with `environments=`."""
    production: EnvironmentSettings = field(default_factory=lambda: _PRODUCTION)
    """Production settings of the default pair; omitted: 10% canary for 5 minutes, no
    variables. Not with `environments=`."""
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    """Retention of the functions' log groups."""
    reserved_concurrency: int | None = None
    """Concurrency reserved for the single function; omitted: none reserved (the account's
    unreserved pool). Not with `functions=`."""
    functions: Mapping[str, FunctionSettings] | None = None
    """Several functions released together, name -> settings, in the order given (the first
    is the default of test cases that name none); omitted: one function from `handler=`."""
    environments: Sequence[Environment] | None = None
    """The environments a release goes through, in order; omitted: staging then production
    (`staging=`, `production=`). PipelineConfig.environments sets this."""

    @property
    def single_function(self) -> bool:
        """The original form: one function named <name>-<environment>."""
        return self.functions is None

    def function_settings(self) -> dict[str, FunctionSettings]:
        """Function name -> settings, in order, each with its runtime (the application's where it
        names none); the single form's function is named for the application."""
        if self.functions is not None:
            return {
                key: replace(function, runtime=function.runtime or self.runtime)
                if isinstance(function, FunctionSettings) and function.package_type != IMAGE
                else function
                for key, function in self.functions.items()
            }
        return {
            self.name: FunctionSettings(
                handler=self.handler,
                memory_mb=self.memory_mb,
                timeout_seconds=self.timeout_seconds,
                reserved_concurrency=self.reserved_concurrency,
                runtime=self.runtime,
                architecture=self.architecture,
                layers=self.layers,
            )
        }

    def function_runtimes(self) -> tuple[tuple[str, str], ...]:
        """(runtime, architecture) of every zip function, in order: what the build builds for
        (DeployPipelineProps.function_runtimes)."""
        return tuple(
            (function.runtime or self.runtime, function.architecture)
            for function in self.function_settings().values()
            if function.package_type != IMAGE
        )

    def image_architecture(self) -> str | None:
        """The architecture of the release's container image (its image functions share it), or
        None when no function is an image (DeployPipelineProps.image_architecture)."""
        return next(
            (
                f.architecture
                for f in self.function_settings().values()
                if isinstance(f, FunctionSettings) and f.package_type == IMAGE
            ),
            None,
        )

    def environment_list(
        self, approval_timeout_seconds: int | None = None
    ) -> tuple[Environment, ...]:
        """The environments in order; `approval_timeout_seconds` (PipelineConfig's, for the
        default pair) gates the last one."""
        if self.environments is not None:
            return tuple(self.environments)
        return (
            Environment.from_settings("staging", self.staging),
            Environment.from_settings("production", self.production, approval_timeout_seconds),
        )


def _validate_shift(problems: Problems, where: str, shift: str | TrafficShift) -> None:
    if isinstance(shift, TrafficShift):
        problems.one_of(f"{where}.deployment_config.kind", shift.kind, ("canary", "linear"))
        problems.within(f"{where}.deployment_config.percentage", shift.percentage, 1, 99, "percent")
        problems.within(
            f"{where}.deployment_config.interval_minutes",
            shift.interval_minutes,
            1,
            2880,
            "minutes",
        )
    else:
        problems.one_of(f"{where}.deployment_config", shift, defaults.LAMBDA_DEPLOYMENT_CONFIGS)


def _validate_variables(problems: Problems, where: str, variables: Mapping[str, str]) -> None:
    for variable in variables:
        problems.pattern(
            f"{where}.variables key", variable, ENV_VAR_NAME, "a letter then letters, digits or '_'"
        )
        if variable in RESERVED_ENV_VARS:
            problems.add(f"{where}.variables sets {variable}, which Lambda reserves")


def _validate_environment(
    problems: Problems, where: str, environment: Environment, last: bool
) -> None:
    _validate_shift(problems, where, environment.shift(last))
    alarms = environment.alarms
    problems.within(f"{where}.alarms.errors_threshold", alarms.errors_threshold, 1, 100000)
    problems.within(f"{where}.alarms.throttles_threshold", alarms.throttles_threshold, 1, 100000)
    problems.within(f"{where}.alarms.evaluation_periods", alarms.evaluation_periods, 1, 100)
    if alarms.period_seconds % 60 or not 60 <= alarms.period_seconds <= 86400:
        problems.add(
            f"{where}.alarms.period_seconds is {alarms.period_seconds!r}; "
            "expected a multiple of 60 from 60 to 86400"
        )
    for event, hook in (
        ("before_allow_traffic", environment.before_allow_traffic),
        ("after_allow_traffic", environment.after_allow_traffic),
    ):
        if hook is not None and hook != SMOKE_TESTS:
            problems.pattern(
                f"{where}.{event}",
                hook,
                FUNCTION_NAME,
                f"{SMOKE_TESTS!r} or {FUNCTION_NAME_ACCEPTED}",
            )
    watched = len(alarms.extra_alarm_names) + (2 if alarms.enabled else 0)
    if watched > MAX_GROUP_ALARMS:
        problems.add(
            f"{where}.alarms would watch {watched} alarms per deployment group (the errors and "
            f"throttles alarms and {len(alarms.extra_alarm_names)} of yours); CodeDeploy allows "
            f"{MAX_GROUP_ALARMS}"
        )
    for name in alarms.extra_alarm_names:
        problems.pattern(
            f"{where}.alarms.extra_alarm_names item",
            name,
            r"[^\s:][^:]{0,254}",
            "a CloudWatch alarm name (not an ARN)",
        )
    _validate_variables(problems, where, environment.variables)
    if environment.vpc is not None:
        _validate_vpc(problems, f"{where}.vpc", environment.vpc)
    if environment.approval_timeout_seconds is not None:
        problems.within(
            f"{where}.approval_timeout_seconds",
            environment.approval_timeout_seconds,
            60,
            31536000,
            "seconds",
        )


# Lambda's VpcConfig: "up to 16 subnets" and "up to 5 security groups" (Lambda API reference,
# VpcConfig), each an EC2 id: a prefix and 8 or 17 hex digits.
VPC_LISTS = {"subnet_ids": ("subnet", 16), "security_group_ids": ("sg", 5)}


def _validate_vpc(problems: Problems, where: str, vpc: VpcConfig) -> None:
    if not isinstance(vpc, VpcConfig):
        problems.add(f"{where} is {vpc!r}; expected a VpcConfig")
        return
    for prop, (prefix, most) in VPC_LISTS.items():
        ids = getattr(vpc, prop)
        if isinstance(ids, str) or not isinstance(ids, Sequence) or not 1 <= len(ids) <= most:
            problems.add(f"{where}.{prop} is {ids!r}; expected a list of 1 to {most} {prefix} ids")
            continue
        for value in ids:
            problems.pattern(
                f"{where}.{prop} item",
                value,
                rf"{prefix}-([0-9a-f]{{8}}|[0-9a-f]{{17}})",
                f"an id such as {prefix}-0123456789abcdef0",
            )
        for duplicate in sorted({i for i in ids if list(ids).count(i) > 1}):
            problems.add(f"{where}.{prop} names {duplicate} more than once")


ROLE_ARN = r"arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/[\w+=,.@/-]{1,512}"


def _validate_placement(problems: Problems, where: str, environment: Environment) -> None:
    """Where the environment lives: a real account, region and role that fit each other."""
    account, region, role = (
        environment.account_id,
        environment.region,
        environment.terraform_role_arn,
    )
    problems.pattern(f"{where}.account_id", account, ACCOUNT_ID, ACCOUNT_ID_ACCEPTED)
    problems.region(f"{where}.region", region)
    if role is None:
        if account is not None:
            problems.add(
                f"{where}.account_id is {account!r} without terraform_role_arn; name the role "
                f"in {account} that Terraform assumes to create the environment "
                f"(arn:aws:iam::{account}:role/...)"
            )
        return
    match = re.fullmatch(ROLE_ARN, role) if isinstance(role, str) else None
    if match is None:
        problems.add(
            f"{where}.terraform_role_arn is {role!r}; expected an IAM role ARN such as "
            "arn:aws:iam::222222222222:role/terraform"
        )
    elif account is None:
        problems.add(
            f"{where}.terraform_role_arn is {role!r} without account_id; give account_id "
            f"{match[2]!r} (the account Terraform creates the environment in)"
        )
    elif match[2] != account:
        problems.add(
            f"{where}.terraform_role_arn is {role!r}, a role in account {match[2]}; expected a "
            f"role in the environment's account {account}"
        )
    elif region in AWS_REGIONS and match[1] != partition_of(region):
        problems.add(
            f"{where}.terraform_role_arn is {role!r} in partition {match[1]}; region {region} is "
            f"in {partition_of(region)}"
        )


def _validate_places(problems: Problems, environments: Sequence[Environment]) -> None:
    """Environments in one account and region share Terraform's provider there, so they name
    the same role."""
    roles: dict[tuple[str | None, str | None], tuple[str, str | None]] = {}
    for environment in environments:
        if not isinstance(environment, Environment) or not environment.placed:
            continue
        place = (environment.account_id, environment.region)
        first = roles.setdefault(place, (environment.name, environment.terraform_role_arn))
        if first[1] != environment.terraform_role_arn:
            problems.add(
                f"environments {first[0]!r} and {environment.name!r} live in the same account and "
                f"region but name different terraform_role_arn ({first[1]} and "
                f"{environment.terraform_role_arn}); one provider serves both: name one role"
            )


def _validate_gates(problems: Problems, where: str, environment: Environment) -> None:
    """Bake time and the deployment window: values AWS and the state machine accept."""
    problems.within(
        f"{where}.bake_minutes", environment.bake_minutes, 0, MAX_BAKE_MINUTES, "minutes"
    )
    window = environment.deployment_window
    if window is None:
        return
    if not isinstance(window, DeploymentWindow):
        problems.add(f"{where}.deployment_window is {window!r}; expected DeploymentWindow(...)")
        return
    at = f"{where}.deployment_window"
    days = list(window.days)
    if not days or any(day not in WEEKDAYS for day in days):
        problems.add(f"{at}.days is {days!r}; expected some of {', '.join(WEEKDAYS)}")
    problems.pattern(f"{at}.start", window.start, CLOCK_TIME, "a time of day HH:MM")
    problems.pattern(
        f"{at}.end", window.end, CLOCK_TIME, "a time of day HH:MM (24:00 for midnight)"
    )
    if (
        _valid(CLOCK_TIME, window.start)
        and _valid(CLOCK_TIME, window.end)
        and window.start >= window.end
    ):
        problems.add(
            f"{at} opens at {window.start} and closes at {window.end}; expected start before end"
        )
    try:
        zoneinfo.ZoneInfo(window.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        problems.add(
            f"{at}.time_zone is {window.time_zone!r}; expected an IANA time zone such as "
            "Europe/Berlin"
        )
    problems.pattern(
        f"{at}.change_calendar",
        window.change_calendar,
        CALENDAR,
        "an SSM Change Calendar name or ARN",
    )
    problems.within(
        f"{at}.max_wait_minutes", window.max_wait_minutes, 1, MAX_WINDOW_WAIT_MINUTES, "minutes"
    )


# Lambda: "You can add up to five layers to a function" (Lambda quotas).
MAX_LAYERS = 5
LAYER_ARN = r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]{1,140}:[1-9]\d*"
# Or the name of a layer built from the release (BuildSettings.layers; handlers/events.py).
LAYER = rf"{LAYER_ARN}|{RELEASE_LAYER.pattern}"


def _validate_code(
    problems: Problems,
    where: str,
    runtime: str,
    handler: str,
    architecture: str,
    layers: Sequence[str],
    own_runtime: bool = True,
) -> None:
    """The runtime, the handler in that runtime's form, the architecture and the layers of
    one function (`where` prefixes each property's name). A runtime the function takes from
    the application (`own_runtime` False) is reported once, there; its handler's form is
    judged once the runtime is one Lambda runs."""
    runtime_problem = runtimes.runtime_problem(runtime)
    if runtime_problem:
        if own_runtime:
            problems.add(f"{where}runtime {runtime_problem}")
    else:
        handler_problem = runtimes.handler_problem(runtime, handler)
        if handler_problem:
            problems.add(f"{where}handler {handler_problem}")
    problems.one_of(f"{where}architecture", architecture, runtimes.ARCHITECTURES)
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        problems.add(
            f"{where}layers is {layers!r}; expected a list of layer version ARNs and names of "
            "layers built from the release"
        )
        return
    if len(layers) > MAX_LAYERS:
        problems.add(f"{where}layers has {len(layers)} entries; Lambda allows {MAX_LAYERS}")
    for layer in layers:
        problems.pattern(
            f"{where}layers item",
            layer,
            LAYER,
            "a layer version ARN, arn:aws:lambda:<region>:<account>:layer:<name>:<version>, "
            "or the name of a layer in BuildSettings.layers (1-64 letters, digits, '_' or '-')",
        )
    for duplicate in sorted({layer for layer in layers if list(layers).count(layer) > 1}):
        problems.add(f"{where}layers names {duplicate} more than once")


def _validate_functions(problems: Problems, props: ApplicationProps) -> None:
    if props.functions is None:
        _validate_code(
            problems, "", props.runtime, props.handler, props.architecture, props.layers
        )
        problems.within("memory_mb", props.memory_mb, 128, 10240, "MB")
        problems.within("timeout_seconds", props.timeout_seconds, 1, 900, "seconds")
        if props.reserved_concurrency is not None:
            problems.within("reserved_concurrency", props.reserved_concurrency, 1, 10000)
        return
    runtime_problem = runtimes.runtime_problem(props.runtime)
    if runtime_problem:
        problems.add(f"runtime {runtime_problem}")
    legacy = {
        "handler": (props.handler, _SINGLE.handler),
        "memory_mb": (props.memory_mb, _SINGLE.memory_mb),
        "timeout_seconds": (props.timeout_seconds, _SINGLE.timeout_seconds),
        "reserved_concurrency": (props.reserved_concurrency, None),
        "architecture": (props.architecture, _SINGLE.architecture),
        "layers": (tuple(props.layers), ()),
    }
    for prop, (value, default) in legacy.items():
        if value != default:
            problems.add(
                f"{prop} is {value!r} beside functions=; set it on each FunctionSettings instead"
            )
    if not 1 <= len(props.functions) <= MAX_FUNCTIONS:
        problems.add(f"functions has {len(props.functions)} entries; expected 1 to {MAX_FUNCTIONS}")
    for name, function in props.functions.items():
        where = f"functions[{name!r}]"
        problems.pattern(f"{where} name", name, COMPONENT_NAME, COMPONENT_NAME_ACCEPTED)
        _reserved_suffix(problems, f"{where} name", name)
        if not isinstance(function, FunctionSettings):
            problems.add(f"{where} is {function!r}; expected FunctionSettings(handler=...)")
            continue
        runtime = function.runtime or props.runtime
        if function.package_type != ZIP:
            _validate_image_function(problems, where, function)
        else:
            _validate_code(
                problems,
                f"{where}.",
                runtime,
                function.handler,
                function.architecture,
                function.layers,
                own_runtime=function.runtime is not None,
            )
        problems.within(f"{where}.memory_mb", function.memory_mb, 128, 10240, "MB")
        problems.within(f"{where}.timeout_seconds", function.timeout_seconds, 1, 900, "seconds")
        if function.reserved_concurrency is not None:
            problems.within(
                f"{where}.reserved_concurrency", function.reserved_concurrency, 1, 10000
            )
        _validate_variables(problems, where, function.variables)


def _validate_image_function(problems: Problems, where: str, function: FunctionSettings) -> None:
    """An image function: the image brings its runtime and everything layers would add, and its
    functions share the release's one image, so they share its platform."""
    problems.one_of(f"{where}.package_type", function.package_type, PACKAGE_TYPES)
    if function.package_type != IMAGE:
        return
    # CreateFunction takes no Runtime for an image, and "Lambda doesn't support adding layers to
    # functions defined with a container image" (Lambda developer guide, "Working with layers").
    if function.runtime is not None:
        problems.add(
            f"{where}.runtime is {function.runtime!r} on an image function; omit it (the image "
            'brings its runtime) or use package_type="Zip"'
        )
    if tuple(function.layers):
        problems.add(
            f"{where}.layers is {list(function.layers)!r} on an image function; Lambda takes no "
            "layers on images: copy their content into the image instead"
        )
    problems.pattern(
        f"{where}.handler",
        function.handler,
        r"[^\s]{1,256}",
        "the image's command, e.g. app.handler for an AWS base image",
    )
    problems.one_of(f"{where}.architecture", function.architecture, runtimes.ARCHITECTURES)


def _validate_images(problems: Problems, props: ApplicationProps) -> None:
    """A release has one image, built for one platform ("Lambda does not support functions that
    use multi-architecture container images": "Create a Lambda function using a container
    image")."""
    if props.functions is None:
        return
    images = {
        name: f.architecture
        for name, f in props.functions.items()
        if isinstance(f, FunctionSettings) and f.package_type == IMAGE
    }
    if len(set(images.values())) > 1:
        listed = ", ".join(f"{name} {arch}" for name, arch in images.items())
        problems.add(
            f"the image functions run {listed}, but a release has one image, built for one "
            "architecture; give them one architecture"
        )


def _validate_environments(problems: Problems, props: ApplicationProps) -> None:
    if props.environments is not None and (props.staging, props.production) != (
        _STAGING,
        _PRODUCTION,
    ):
        problems.add(
            "staging= or production= is set beside environments=; give those settings to "
            "Environment('staging', ...) and Environment('production', ...) instead"
        )
    environments = props.environment_list()
    if not 1 <= len(environments) <= MAX_ENVIRONMENTS:
        problems.add(
            f"environments has {len(environments)} entries; expected 1 to {MAX_ENVIRONMENTS}"
        )
    names = [getattr(e, "name", None) for e in environments]
    for duplicate in sorted({n for n in names if n is not None and names.count(n) > 1}):
        problems.add(f"environments name {duplicate!r} is used more than once; names must differ")
    for index, environment in enumerate(environments):
        if not isinstance(environment, Environment):
            problems.add(
                f"environments[{index}] is {environment!r}; expected Environment(name, ...)"
            )
            continue
        problems.pattern(
            f"environments[{index}].name",
            environment.name,
            ENVIRONMENT_NAME,
            ENVIRONMENT_NAME_ACCEPTED,
        )
        if environment.name in RESERVED_ENVIRONMENT_NAMES:
            problems.add(
                f"environments[{index}].name is {environment.name!r}, which the pipeline's "
                f"own resources use; choose another (not {', '.join(RESERVED_ENVIRONMENT_NAMES)})"
            )
        _reserved_suffix(problems, f"environments[{index}].name", environment.name)
        where = (
            environment.name
            if props.environments is None
            else f"environments[{environment.name!r}]"
        )
        _validate_environment(problems, where, environment, index == len(environments) - 1)
        _validate_placement(problems, where, environment)
        _validate_gates(problems, where, environment)
    _validate_places(problems, environments)


def _reserved_suffix(problems: Problems, where: str, name: Any) -> None:
    for suffix in RESERVED_ID_SUFFIXES:
        if isinstance(name, str) and name.endswith(suffix):
            problems.add(
                f"{where} is {name!r}, which ends like the ids the pipeline gives the resources "
                f"it creates for a name ({suffix}); choose another"
            )


def _validate_states(problems: Problems, props: ApplicationProps) -> None:
    """The environments' state names (Deploy<Env>, WaitForApproval<Env>, ...) are distinct."""
    stages = [(e.name, e.approval_timeout_seconds) for e in props.environment_list()]
    bake = {e.name: e.bake_minutes * 60 for e in props.environment_list()}
    try:
        asl.compose(stages, bake)
    except asl.DuplicateState as duplicate:
        problems.add(
            f"environments {', '.join(repr(name) for name, _ in stages)} would give the state "
            f"machine two states named {duplicate.state}; rename one of them"
        )


def validate_props(props: ApplicationProps) -> None:
    problems = Problems("ServerlessApplication")
    application_problems(problems, props)
    problems.raise_if_any()


def application_problems(problems: Problems, props: ApplicationProps) -> None:
    """Every problem of the application's settings, added to `problems`; the checks that need
    the rest to be sound run only when nothing else is wrong with the application."""
    known = len(problems.items)
    problems.pattern("name", props.name, NAME_PREFIX, NAME_PREFIX_ACCEPTED)
    problems.pattern("alias", props.alias, r"(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}", "an alias name")
    problems.one_of("log_retention_days", props.log_retention_days, defaults.LOG_RETENTION_CHOICES)
    _validate_functions(problems, props)
    _validate_images(problems, props)
    _validate_environments(problems, props)
    _validate_names(problems, props)
    if len(problems.items) == known:
        _validate_states(problems, props)


def _validate_names(problems: Problems, props: ApplicationProps) -> None:
    """Every physical name the application gets fits AWS's limits and is its own (for the
    names that are valid themselves: the others are reported already)."""
    seen: dict[str, str] = {}
    # Each valid name once: a repeated environment is reported as such already.
    environments = dict.fromkeys(
        e.name
        for e in props.environment_list()
        if isinstance(e, Environment) and _valid(ENVIRONMENT_NAME, e.name)
    )
    functions = [
        f for f in props.function_settings() if props.single_function or _valid(COMPONENT_NAME, f)
    ]
    if not _valid(NAME_PREFIX, props.name):
        return
    for environment in environments:
        for function in functions:
            name = function_name(props, function, environment)
            label = f"function {function!r} in {environment!r}"
            if len(name) > MAX_FUNCTION_NAME:
                problems.add(
                    f"{label} is named {name!r} ({len(name)} characters); at most "
                    f"{MAX_FUNCTION_NAME}, so that its IAM roles (<name>-codedeploy) fit IAM's "
                    "64; shorten the application, function or environment name"
                )
            if name in seen:
                problems.add(f"{label} and {seen[name]} would both be named {name!r}")
            seen[name] = label


def _valid(pattern: str, value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def function_name(props: ApplicationProps, function: str, environment: str) -> str:
    """The physical name of one function in one environment (also its deployment group's)."""
    if props.single_function:
        return naming.app_function(props.name, environment)
    return naming.app_function(props.name, environment, function)


def runs_library_hook(props: ApplicationProps) -> bool:
    """Whether any environment's deployments run the library's smoke-test hook."""
    return any(SMOKE_TESTS in e.chosen_hooks().values() for e in props.environment_list())


NOT_RELEASED = "No release has been deployed to this function yet."


def placeholder_code(functions: Mapping[str, FunctionSettings]) -> bytes:
    """The code a new function starts with: each Python or Node.js handler answers that nothing
    is released yet (a function of a compiled runtime fails to start until its first release).
    The pipeline replaces it, and Terraform ignores the code from then on."""
    files: dict[str, str] = {}
    for function in functions.values():
        if function.package_type == IMAGE:
            continue  # it starts from the bootstrap image (ImageRepository)
        family = runtimes.family(function.runtime or defaults.LAMBDA_RUNTIME).name
        module, _, name = function.handler.rpartition(".")
        if family == "python":
            path = module.replace(".", "/") + ".py"
            code = f"def {name}(event, context):\n    raise RuntimeError({NOT_RELEASED!r})\n"
        elif family == "nodejs":
            path = module + ".js"
            code = f"exports.{name} = async () => {{\n  throw new Error({NOT_RELEASED!r});\n}};\n"
        else:
            continue
        if code not in files.get(path, ""):
            files[path] = files.get(path, "") + code
    return zip_bytes([(path, source.encode()) for path, source in files.items()])

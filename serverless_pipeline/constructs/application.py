"""ServerlessApplication: the Lambda application the pipeline deploys, one function per
environment, each behind a `live` alias that CodeDeploy shifts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.codedeploy_app import CodedeployApp
from cdktf_cdktf_provider_aws.codedeploy_deployment_config import (
    CodedeployDeploymentConfig,
    CodedeployDeploymentConfigTrafficRoutingConfig,
    CodedeployDeploymentConfigTrafficRoutingConfigTimeBasedCanary,
    CodedeployDeploymentConfigTrafficRoutingConfigTimeBasedLinear,
)
from cdktf_cdktf_provider_aws.codedeploy_deployment_group import (
    CodedeployDeploymentGroup,
    CodedeployDeploymentGroupAlarmConfiguration,
    CodedeployDeploymentGroupAutoRollbackConfiguration,
    CodedeployDeploymentGroupDeploymentStyle,
)
from cdktf_cdktf_provider_aws.lambda_alias import LambdaAlias
from constructs import Construct

from .. import defaults, naming
from ..alarms import AlarmSettings, alarm_specs, watched_alarm_names
from ..assets import zip_bytes
from ..validation import (
    FUNCTION_NAME,
    FUNCTION_NAME_ACCEPTED,
    HANDLER,
    HANDLER_ACCEPTED,
    NAME_PREFIX,
    NAME_PREFIX_ACCEPTED,
    ConfigurationError,
    Problems,
)
from .artifact_buckets import ENVIRONMENTS, ArtifactBuckets
from .aws_context import AwsContext
from .encryption import PipelineKey
from .functions import PythonFunction, zip_asset
from .iam import ServiceRole, Statement

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

    def hooks(self, library_hook: str | None) -> dict[str, str]:
        """Lifecycle event -> hook function name, with SMOKE_TESTS resolved."""
        chosen = {
            "BeforeAllowTraffic": self.before_allow_traffic,
            "AfterAllowTraffic": self.after_allow_traffic,
        }
        return {
            event: (library_hook or "") if function == SMOKE_TESTS else function
            for event, function in chosen.items()
            if function is not None
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
    return any(
        SMOKE_TESTS
        in (props.settings(e).before_allow_traffic, props.settings(e).after_allow_traffic)
        for e in ENVIRONMENTS
    )


def placeholder_code(handler: str) -> bytes:
    """The code a new function starts with: the handler answers that nothing is released yet.
    The pipeline replaces it, and Terraform ignores the code from then on."""
    module, _, function = handler.rpartition(".")
    source = (
        f"def {function}(event, context):\n"
        "    raise RuntimeError('No release has been deployed to this function yet.')\n"
    )
    return zip_bytes([(module.replace(".", "/") + ".py", source.encode())])


class ServerlessApplication(Construct):
    """A staging and a production function, each with a `live` alias, and a CodeDeploy
    application with one deployment group per environment (auto-rollback on failure).

    Terraform does not fight the pipeline: the functions' code and the aliases' version and
    routing are ignored after creation, since the pipeline changes them on every release.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: ApplicationProps,
        *,
        key: PipelineKey,
        context: AwsContext,
    ) -> None:
        super().__init__(scope, id)
        validate_props(props)
        self.uses_library_hook = runs_library_hook(props)
        """Whether any environment runs the library's smoke-test hook (HandlerFunctions then
        deploys it and registers it with `add_library_hook`)."""
        self.traffic_hook_function: str | None = None
        self.deployers: dict[str, ServiceRole] = {}
        self.props = props
        self._context = context
        code = placeholder_code(props.handler)
        asset = zip_asset(self, "placeholder-code", "placeholder.zip", code)
        self.placeholder = (code, asset)
        """The code every function of the application starts with, and its asset."""
        self.codedeploy_app = CodedeployApp(
            self, "codedeploy", name=props.name, compute_platform="Lambda"
        )
        self.functions: dict[str, PythonFunction] = {}
        self.aliases: dict[str, LambdaAlias] = {}
        self.deployment_groups: dict[str, CodedeployDeploymentGroup] = {}
        # environment -> names of the alarms that stop its deployments
        self.alarm_names: dict[str, list[str]] = {}
        for environment in ENVIRONMENTS:
            settings = props.settings(environment)
            function = PythonFunction(
                self,
                environment,
                function_name=self.function_name(environment),
                description=f"{props.name} ({environment}), deployed by its pipeline",
                code=code,
                asset=asset,
                handler=props.handler,
                runtime=props.runtime,
                memory_mb=props.memory_mb,
                timeout_seconds=props.timeout_seconds,
                environment=settings.variables,
                statements=[],
                key=key,
                log_retention_days=props.log_retention_days,
                publish=True,
                ignore_code_changes=True,
                reserved_concurrency=props.reserved_concurrency,
            )
            self.functions[environment] = function
            self.aliases[environment] = LambdaAlias(
                self,
                f"{environment}-alias",
                name=props.alias,
                function_name=function.name,
                function_version=function.function.version,
                description=f"Serves {environment} traffic; moved by CodeDeploy",
                lifecycle=TerraformResourceLifecycle(
                    ignore_changes=["function_version", "routing_config"]
                ),
            )
            config_name = self._deployment_config(environment, settings.deployment_config)
            function_name = self.function_name(environment)
            watched = watched_alarm_names(function_name, props.alias, settings.alarms)
            self.alarm_names[environment] = watched
            for spec in alarm_specs(function_name, props.alias, settings.alarms):
                CloudwatchMetricAlarm(
                    self,
                    f"{environment}-{spec.metric_name.lower()}-alarm",
                    alarm_name=spec.name,
                    alarm_description=f"{spec.metric_name} through {spec.function_name}:"
                    f"{spec.alias}; stops and rolls back a deployment",
                    namespace="AWS/Lambda",
                    metric_name=spec.metric_name,
                    dimensions=spec.dimensions,
                    statistic=spec.statistic,
                    period=spec.period_seconds,
                    evaluation_periods=spec.evaluation_periods,
                    threshold=spec.threshold,
                    comparison_operator=spec.comparison,
                    treat_missing_data=spec.treat_missing_data,
                )
            alarm_statements = (
                [
                    Statement(
                        "ReadDeploymentAlarms",
                        ["cloudwatch:DescribeAlarms"],
                        [self._context.arn("cloudwatch", f"alarm:{n}") for n in watched],
                    )
                ]
                if watched
                else []
            )
            own_hooks = sorted(
                {f for f in self._chosen_hooks(environment).values() if f != SMOKE_TESTS}
            )
            hook_statements = (
                [
                    Statement(
                        "InvokeTrafficHooks",
                        ["lambda:InvokeFunction"],
                        [self._context.arn("lambda", f"function:{name}") for name in own_hooks],
                    )
                ]
                if own_hooks
                else []
            )
            deployer = self.deployers[environment] = ServiceRole(
                self,
                f"{environment}-deployer",
                name=f"{self.function_name(environment)}-codedeploy",
                service="codedeploy.amazonaws.com",
                description=f"CodeDeploy shifts {self.function_name(environment)}'s alias",
                statements=[
                    Statement(
                        "ShiftAlias",
                        [
                            "lambda:GetAlias",
                            "lambda:UpdateAlias",
                            "lambda:GetProvisionedConcurrencyConfig",
                        ],
                        self.function_arns(environment),
                    ),
                    *alarm_statements,
                    *hook_statements,
                ],
            )
            self.deployment_groups[environment] = CodedeployDeploymentGroup(
                self,
                f"{environment}-deployment-group",
                app_name=self.codedeploy_app.name,
                deployment_group_name=self.deployment_group_name(environment),
                service_role_arn=deployer.arn,
                deployment_config_name=config_name,
                deployment_style=CodedeployDeploymentGroupDeploymentStyle(
                    deployment_type="BLUE_GREEN", deployment_option="WITH_TRAFFIC_CONTROL"
                ),
                alarm_configuration=CodedeployDeploymentGroupAlarmConfiguration(
                    alarms=watched, enabled=True
                )
                if watched
                else None,
                auto_rollback_configuration=CodedeployDeploymentGroupAutoRollbackConfiguration(
                    enabled=True,
                    events=[
                        "DEPLOYMENT_FAILURE",
                        "DEPLOYMENT_STOP_ON_REQUEST",
                        *(["DEPLOYMENT_STOP_ON_ALARM"] if watched else []),
                    ],
                ),
            )

    def _deployment_config(self, environment: str, shift: str | TrafficShift) -> str:
        """The config's name; a custom shift gets a CodeDeploy deployment config of its own,
        named through the resource's attribute so that Terraform creates the config before the
        deployment group that uses it."""
        name = self.deployment_config_name(environment)
        if not isinstance(shift, TrafficShift):
            return name
        step = {"interval": shift.interval_minutes, "percentage": shift.percentage}
        config = CodedeployDeploymentConfig(
            self,
            f"{environment}-deployment-config",
            deployment_config_name=name,
            compute_platform="Lambda",
            traffic_routing_config=CodedeployDeploymentConfigTrafficRoutingConfig(
                type="TimeBasedCanary" if shift.kind == "canary" else "TimeBasedLinear",
                time_based_canary=CodedeployDeploymentConfigTrafficRoutingConfigTimeBasedCanary(
                    **step
                )
                if shift.kind == "canary"
                else None,
                time_based_linear=CodedeployDeploymentConfigTrafficRoutingConfigTimeBasedLinear(
                    **step
                )
                if shift.kind == "linear"
                else None,
            ),
        )
        return config.deployment_config_name

    def _chosen_hooks(self, environment: str) -> dict[str, str]:
        settings = self.props.settings(environment)
        chosen = {
            "BeforeAllowTraffic": settings.before_allow_traffic,
            "AfterAllowTraffic": settings.after_allow_traffic,
        }
        return {event: function for event, function in chosen.items() if function is not None}

    def add_library_hook(self, function_name: str) -> None:
        """Register the library's traffic hook (HandlerFunctions does, when it deploys it):
        the environments that chose SMOKE_TESTS run it, and their CodeDeploy roles may invoke
        it and nothing else of the pipeline's."""
        self.traffic_hook_function = function_name
        arn = self._context.arn("lambda", f"function:{function_name}")
        for environment, deployer in self.deployers.items():
            if SMOKE_TESTS in self._chosen_hooks(environment).values():
                deployer.add_statements(
                    Statement("InvokeLibraryTrafficHook", ["lambda:InvokeFunction"], [arn])
                )

    def hooks(self, environment: str) -> dict[str, str]:
        """Lifecycle event -> hook function name for one environment's deployments."""
        if self.uses_library_hook and self.traffic_hook_function is None:
            raise ConfigurationError(
                "ServerlessApplication",
                [
                    f"a traffic hook is {SMOKE_TESTS!r}, which only HandlerFunctions deploys; "
                    "build HandlerFunctions with this application (ServerlessPipeline does)"
                ],
            )
        return self.props.settings(environment).hooks(self.traffic_hook_function)

    def deployment_config_name(self, environment: str) -> str:
        shift = self.props.settings(environment).deployment_config
        if isinstance(shift, TrafficShift):
            return f"{self.props.name}-{environment}-{shift.config_name}"
        return shift

    def function_name(self, environment: str) -> str:
        return naming.app_function(self.props.name, environment)

    def deployment_group_name(self, environment: str) -> str:
        return naming.deployment_group(self.props.name, environment)

    def function_arns(self, environment: str) -> list[str]:
        """The function's ARN and its qualified (version and alias) ARNs."""
        arn = self._context.arn("lambda", f"function:{self.function_name(environment)}")
        return [arn, f"{arn}:*"]

    def deployment_group_arn(self, environment: str) -> str:
        return self._context.arn(
            "codedeploy",
            f"deploymentgroup:{self.props.name}/{self.deployment_group_name(environment)}",
        )

    def grant_promote(self) -> list[Statement]:
        """Publish releases to both functions and drive their deployment groups."""
        functions = [arn for env in ENVIRONMENTS for arn in self.function_arns(env)]
        groups = [self.deployment_group_arn(env) for env in ENVIRONMENTS]
        configs = sorted({self.deployment_config_name(env) for env in ENVIRONMENTS})
        return [
            Statement(
                "PublishReleases",
                [
                    "lambda:GetAlias",
                    "lambda:GetFunction",
                    "lambda:GetFunctionConfiguration",
                    "lambda:PublishVersion",
                    "lambda:UpdateFunctionCode",
                ],
                functions,
            ),
            Statement(
                "DeployReleases",
                [
                    "codedeploy:CreateDeployment",
                    "codedeploy:GetDeployment",
                    "codedeploy:ListDeployments",
                ],
                groups,
            ),
            Statement(
                "RegisterRevisions",
                ["codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision"],
                [self._context.arn("codedeploy", f"application:{self.props.name}")],
            ),
            Statement(
                "ReadDeploymentConfigs",
                ["codedeploy:GetDeploymentConfig"],
                [self._context.arn("codedeploy", f"deploymentconfig:{c}") for c in configs],
            ),
        ]

    def grant_rollback(self) -> list[Statement]:
        """Stop deployments and move both aliases back."""
        return [
            Statement(
                "RestoreAliases",
                ["lambda:GetAlias", "lambda:GetFunctionConfiguration", "lambda:UpdateAlias"],
                [arn for env in ENVIRONMENTS for arn in self.function_arns(env)],
            ),
            Statement(
                "StopDeployments",
                [
                    "codedeploy:GetDeployment",
                    "codedeploy:ListDeployments",
                    "codedeploy:StopDeployment",
                ],
                [self.deployment_group_arn(env) for env in ENVIRONMENTS],
            ),
        ]

    def grant_traffic_hook(self, buckets: ArtifactBuckets) -> list[Statement]:
        """Smoke-test new versions and report to the deployment groups, nothing else."""
        return [
            Statement(
                "ReportHookStatus",
                ["codedeploy:GetDeployment", "codedeploy:PutLifecycleEventHookExecutionStatus"],
                [self.deployment_group_arn(env) for env in ENVIRONMENTS],
            ),
            Statement(
                "InvokeNewVersions",
                ["lambda:InvokeFunction"],
                [arn for env in ENVIRONMENTS for arn in self.function_arns(env)],
            ),
            Statement(
                "ReadDeployedReleases",
                ["s3:GetObject", "s3:GetObjectVersion"],
                [f"{buckets.bucket_for(env).arn}/releases/*" for env in ENVIRONMENTS],
            ),
        ]

    def grant_test_staging(self) -> list[Statement]:
        """Invoke staging through its alias after reading which release it serves."""
        return [
            Statement(
                "TestThroughStagingAlias",
                ["lambda:GetAlias", "lambda:GetFunctionConfiguration", "lambda:InvokeFunction"],
                self.function_arns("staging"),
            )
        ]

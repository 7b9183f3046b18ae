"""ServerlessApplication: the Lambda application the pipeline deploys: each of its functions in
each environment, behind a `live` alias that CodeDeploy shifts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from constructs import Construct

from ..application_settings import (
    IMAGE,
    SMOKE_TESTS,
    ApplicationProps,
    VpcConfig,
    placeholder_code,
    runs_library_hook,
    validate_props,
)
from ..engine import TerraformResourceLifecycle, aws
from ..handlers import release_layers
from ..handlers.release_layers import is_release_layer
from ..layout import EnvironmentLayout, FunctionLayout, application_layout
from ..validation import ConfigurationError
from .artifact_buckets import ArtifactBuckets
from .aws_context import AwsContext
from .encryption import PipelineKey
from .functions import LoggedFunction, zip_asset
from .iam import ServiceRole, Statement
from .image_repository import ImageRepository
from .placement import EnvironmentPlacement


class ServerlessApplication(Construct):
    """Every function of the application in every environment, each with a `live` alias, and a
    CodeDeploy application with one deployment group per function and environment
    (auto-rollback on failure).

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
        placements: Mapping[str, EnvironmentPlacement] | None = None,
        images: ImageRepository | None = None,
    ) -> None:
        """`placements`: the environments that live in their own account or region, whose
        resources are created there (ServerlessPipeline makes them from the config); `images`:
        the repository the image functions start from, where some function is an image."""
        super().__init__(scope, id)
        validate_props(props)
        self.props = props
        self.placements = dict(placements or {})
        self.layout = application_layout(props, None)
        """Names, deployment configs, alarms and rollback events of every function in every
        environment: the same values the rehearsal lays out (serverless_pipeline/layout.py)."""
        self.uses_library_hook = runs_library_hook(props)
        """Whether any environment runs the library's smoke-test hook (HandlerFunctions then
        deploys it and registers it with `add_library_hook`)."""
        self.traffic_hook_function: str | None = None
        self._context = context
        self._key = key
        code = placeholder_code(self.layout.functions)
        asset = zip_asset(self, "placeholder-code", "placeholder.zip", code)
        self.placeholder = (code, asset)
        """The code every function of the application starts with, and its asset."""
        self.images = images
        if images is None and props.image_architecture() is not None:
            raise ConfigurationError(
                "ServerlessApplication",
                [
                    "some functions are container images but no ImageRepository is given; build "
                    "the application inside ServerlessPipeline, or give images="
                ],
            )
        missing = [e.name for e in self.layout.placed if e.name not in self.placements]
        if missing:
            raise ConfigurationError(
                "ServerlessApplication",
                [
                    f"environments {', '.join(missing)} live in their own account or region "
                    "but have no placement; build the application inside ServerlessPipeline"
                ],
            )
        # One CodeDeploy application in each account and region (the original id stays with
        # the pipeline's own).
        self.codedeploy_apps: dict[str, aws.codedeploy_app.CodedeployApp] = {}
        for environment in self.layout.environments:
            place = environment.placement
            app_id = f"codedeploy-{place.provider_alias}" if place else "codedeploy"
            if app_id not in self.codedeploy_apps:
                with self._placing(environment.name):
                    self.codedeploy_apps[app_id] = aws.codedeploy_app.CodedeployApp(
                        self, app_id, name=props.name, compute_platform="Lambda"
                    )
        # Keyed by each function's construct id: the environment in the single form
        # ("staging"), <environment>-<function> with `functions=` ("staging-api").
        self.functions: dict[str, LoggedFunction] = {}
        self.aliases: dict[str, aws.lambda_alias.LambdaAlias] = {}
        self.deployers: dict[str, ServiceRole] = {}
        self.deployment_groups: dict[
            str, aws.codedeploy_deployment_group.CodedeployDeploymentGroup
        ] = {}
        # environment -> names of the alarms that stop its functions' deployments
        self.alarm_names: dict[str, list[str]] = {}
        for environment in self.layout.environments:
            with self._placing(environment.name):
                config_name = self._deployment_config(environment)
                self.alarm_names[environment.name] = []
                for function in environment.functions:
                    self._function(environment, function)
                    self._alarms(environment, function)
                    self._deployment_group(environment, function, config_name)

    def _placing(self, environment: str) -> Any:
        """Create the block's resources where `environment` lives."""
        placed = self.placements.get(environment)
        return placed.creating_in(self) if placed else nullcontext()

    def context_of(self, environment: str) -> AwsContext:
        """The account and region `environment` lives in, for its ARNs."""
        placed = self.placements.get(environment)
        return placed.context if placed else self._context

    def key_of(self, environment: str) -> PipelineKey:
        """The key that encrypts `environment`'s logs, variables and bucket."""
        placed = self.placements.get(environment)
        return placed.key if placed else self._key

    def codedeploy_app(self, environment: str) -> aws.codedeploy_app.CodedeployApp:
        """The CodeDeploy application that deploys `environment`'s functions: one per account
        and region the application lives in."""
        place = self.layout.environment(environment).placement
        return self.codedeploy_apps[f"codedeploy-{place.provider_alias}" if place else "codedeploy"]

    def _function(self, environment: EnvironmentLayout, function: FunctionLayout) -> None:
        """The function and the alias CodeDeploy shifts."""
        props, (code, asset) = self.props, self.placeholder
        label = props.name if props.single_function else f"{props.name} {function.key}"
        # An image function starts from the bootstrap image; a zip function from the placeholder.
        image = (
            self.images.bootstrap_image
            if self.images and function.package_type == IMAGE
            else None
        )
        created = self.functions[function.construct_id] = LoggedFunction(
            self,
            function.construct_id,
            function_name=function.function_name,
            description=f"{label} ({environment.name}), deployed by its pipeline",
            code=None if image else code,
            asset=None if image else asset,
            image_uri=image,
            handler=function.handler,
            runtime=function.runtime or None,
            architecture=function.architecture,
            # Layers built from the release get their versions' ARNs from promote, which sets
            # all of the function's layers with each release (Terraform cannot know them).
            layers=[layer for layer in function.layers if not is_release_layer(layer)],
            pipeline_sets_layers=bool(release_layers.names(function.layers)),
            memory_mb=function.memory_mb,
            timeout_seconds=function.timeout_seconds,
            environment=function.variables,
            vpc=function.vpc,
            statements=self._network_interfaces(environment.name, function.vpc),
            key=self.key_of(environment.name),
            log_retention_days=props.log_retention_days,
            publish=True,
            ignore_code_changes=True,
            reserved_concurrency=function.reserved_concurrency,
        )
        self.aliases[function.construct_id] = aws.lambda_alias.LambdaAlias(
            self,
            f"{function.construct_id}-alias",
            name=environment.alias,
            function_name=created.name,
            function_version=created.function.version,
            description=f"Serves {environment.name} traffic; moved by CodeDeploy",
            lifecycle=TerraformResourceLifecycle(
                ignore_changes=["function_version", "routing_config"]
            ),
        )

    def _network_interfaces(self, environment: str, vpc: VpcConfig | None) -> list[Statement]:
        """What Lambda does with a VPC function's role: create, describe and delete the network
        interfaces it attaches in the VPC (Lambda developer guide, "Giving Lambda functions
        access to resources in an Amazon VPC", execution role permissions). Creating is scoped
        to the environment's subnets and security groups; the Describe actions have no resource
        type (service authorization reference, Amazon EC2), so they take "*"."""
        if vpc is None:
            return []
        context = self.context_of(environment)
        interfaces = context.arn("ec2", "network-interface/*")
        return [
            Statement(
                "CreateNetworkInterfaces",
                ["ec2:CreateNetworkInterface"],
                [
                    interfaces,
                    *(context.arn("ec2", f"subnet/{subnet}") for subnet in vpc.subnet_ids),
                    *(context.arn("ec2", f"security-group/{g}") for g in vpc.security_group_ids),
                ],
            ),
            Statement(
                "ManageNetworkInterfaces",
                [
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:DeleteNetworkInterface",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                [interfaces],
            ),
            Statement(
                "DescribeNetworkInterfaces",
                ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                ["*"],
            ),
        ]

    def _alarms(self, environment: EnvironmentLayout, function: FunctionLayout) -> None:
        self.alarm_names[environment.name] += function.watched_alarms
        for spec in function.alarms:
            aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
                self,
                f"{function.construct_id}-{spec.metric_name.lower()}-alarm",
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

    def _deployment_group(
        self, environment: EnvironmentLayout, function: FunctionLayout, config_name: str
    ) -> None:
        """CodeDeploy's role for the function (shift its alias, read its alarms, run the user's
        own hooks) and the deployment group that uses it."""
        watched = list(function.watched_alarms)
        context = self.context_of(environment.name)
        arn = context.arn("lambda", f"function:{function.function_name}")
        statements = [
            Statement(
                "ShiftAlias",
                ["lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetProvisionedConcurrencyConfig"],
                [arn, f"{arn}:*"],
            )
        ]
        if watched:
            statements.append(
                Statement(
                    "ReadDeploymentAlarms",
                    ["cloudwatch:DescribeAlarms"],
                    [context.arn("cloudwatch", f"alarm:{n}") for n in watched],
                )
            )
        if environment.own_hooks:
            statements.append(
                Statement(
                    "InvokeTrafficHooks",
                    ["lambda:InvokeFunction"],
                    [context.arn("lambda", f"function:{name}") for name in environment.own_hooks],
                )
            )
        deployer = self.deployers[function.construct_id] = ServiceRole(
            self,
            f"{function.construct_id}-deployer",
            name=f"{function.function_name}-codedeploy",
            service="codedeploy.amazonaws.com",
            description=f"CodeDeploy shifts {function.function_name}'s alias",
            statements=statements,
        )
        self.deployment_groups[function.construct_id] = (
            aws.codedeploy_deployment_group.CodedeployDeploymentGroup(
                self,
                f"{function.construct_id}-deployment-group",
                app_name=self.codedeploy_app(environment.name).name,
                deployment_group_name=function.deployment_group,
                service_role_arn=deployer.arn,
                deployment_config_name=config_name,
                deployment_style=aws.codedeploy_deployment_group.CodedeployDeploymentGroupDeploymentStyle(
                    deployment_type="BLUE_GREEN", deployment_option="WITH_TRAFFIC_CONTROL"
                ),
                alarm_configuration=aws.codedeploy_deployment_group.CodedeployDeploymentGroupAlarmConfiguration(
                    alarms=watched, enabled=True
                )
                if watched
                else None,
                auto_rollback_configuration=aws.codedeploy_deployment_group.CodedeployDeploymentGroupAutoRollbackConfiguration(
                    enabled=True, events=list(function.rollback_events)
                ),
            )
        )

    def _deployment_config(self, environment: EnvironmentLayout) -> str:
        """The config's name; a custom shift gets a CodeDeploy deployment config of its own,
        named through the resource's attribute so that Terraform creates the config before the
        deployment group that uses it."""
        shift = environment.custom_shift
        if shift is None:
            return environment.deployment_config
        step = {"interval": shift.interval_minutes, "percentage": shift.percentage}
        config = aws.codedeploy_deployment_config.CodedeployDeploymentConfig(
            self,
            f"{environment.name}-deployment-config",
            deployment_config_name=environment.deployment_config,
            compute_platform="Lambda",
            traffic_routing_config=aws.codedeploy_deployment_config.CodedeployDeploymentConfigTrafficRoutingConfig(
                type="TimeBasedCanary" if shift.kind == "canary" else "TimeBasedLinear",
                time_based_canary=aws.codedeploy_deployment_config.CodedeployDeploymentConfigTrafficRoutingConfigTimeBasedCanary(
                    **step
                )
                if shift.kind == "canary"
                else None,
                time_based_linear=aws.codedeploy_deployment_config.CodedeployDeploymentConfigTrafficRoutingConfigTimeBasedLinear(
                    **step
                )
                if shift.kind == "linear"
                else None,
            ),
        )
        return config.deployment_config_name

    def add_library_hook(self, function_name: str) -> None:
        """Register the library's traffic hook (HandlerFunctions does, when it deploys it):
        the environments that chose SMOKE_TESTS run it, and their CodeDeploy roles may invoke
        it and nothing else of the pipeline's."""
        self.traffic_hook_function = function_name
        self.layout = application_layout(self.props, function_name)
        for environment in self.layout.environments:
            if environment.library_hook:
                # The layout's name for it there (an environment elsewhere has its own).
                hook = environment.library_hook
                arn = self.context_of(environment.name).arn("lambda", f"function:{hook}")
                for function in environment.functions:
                    self.deployers[function.construct_id].add_statements(
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
        return dict(self.layout.environment(environment).hooks)

    @property
    def environment_names(self) -> tuple[str, ...]:
        """The environments a release goes through, in order."""
        return self.layout.environment_names

    def deployment_config_name(self, environment: str) -> str:
        """The CodeDeploy deployment config that shifts `environment`'s traffic."""
        return self.layout.environment(environment).deployment_config

    def function_name(self, environment: str, function: str | None = None) -> str:
        """The physical name of `function` (default: the first) in `environment`."""
        placed = self.layout.environment(environment).functions
        return next(f for f in placed if function in (None, f.key)).function_name

    def deployment_group_name(self, environment: str, function: str | None = None) -> str:
        """The deployment group of `function` (default: the first) in `environment`."""
        return self.function_name(environment, function)

    def function_arns(self, environment: str) -> list[str]:
        """Every function's ARN in the environment and their qualified (version and alias)
        ARNs."""
        arns = []
        context = self.context_of(environment)
        for function in self.layout.environment(environment).functions:
            arn = context.arn("lambda", f"function:{function.function_name}")
            arns += [arn, f"{arn}:*"]
        return arns

    def deployment_group_arns(self, environment: str) -> list[str]:
        """The ARN of every function's deployment group in `environment`."""
        context = self.context_of(environment)
        return [
            context.arn(
                "codedeploy", f"deploymentgroup:{self.props.name}/{function.deployment_group}"
            )
            for function in self.layout.environment(environment).functions
        ]

    @property
    def local_environments(self) -> tuple[str, ...]:
        """The environments in the pipeline's own account and region, which the handlers' own
        roles act on (the others through their deployment roles)."""
        return tuple(e.name for e in self.layout.environments if e.placement is None)

    def grant_promote(self, environments: Sequence[str]) -> list[Statement]:
        """Publish releases to every function of `environments` and drive their deployment
        groups."""
        # In a fixed order (by name, then by environment): ARNs hold tokens, which do not sort.
        configs = dict.fromkeys(
            sorted(
                ((self.context_of(env), self.deployment_config_name(env)) for env in environments),
                key=lambda pair: pair[1],
            )
        )
        apps = dict.fromkeys(self.context_of(env) for env in environments)
        return _granted(
            Statement(
                "PublishReleases",
                [
                    "lambda:GetAlias",
                    "lambda:GetFunction",
                    "lambda:GetFunctionConfiguration",
                    "lambda:PublishVersion",
                    "lambda:UpdateFunctionCode",
                ],
                [arn for env in environments for arn in self.function_arns(env)],
            ),
            Statement(
                "DeployReleases",
                [
                    "codedeploy:CreateDeployment",
                    "codedeploy:GetDeployment",
                    "codedeploy:ListDeployments",
                ],
                [arn for env in environments for arn in self.deployment_group_arns(env)],
            ),
            Statement(
                "RegisterRevisions",
                ["codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision"],
                [c.arn("codedeploy", f"application:{self.props.name}") for c in apps],
            ),
            Statement(
                "ReadDeploymentConfigs",
                ["codedeploy:GetDeploymentConfig"],
                [c.arn("codedeploy", f"deploymentconfig:{name}") for c, name in configs],
            ),
            Statement(
                "SetReleaseLayers",
                ["lambda:UpdateFunctionConfiguration"],
                [
                    self.context_of(env).arn("lambda", f"function:{function.function_name}")
                    for env in environments
                    for function in self.layout.environment(env).functions
                    if release_layers.names(function.layers)
                ],
            ),
            *self.grant_release_layers(self.context_of(env) for env in environments),
        )

    def grant_release_layers(self, contexts: Iterable[AwsContext]) -> list[Statement]:
        """Publish the layers built from the release in these accounts and regions, find their
        versions again and hand them to functions with the layers given by ARN. Lambda
        authorizes PublishLayerVersion and ListLayerVersions on the layer, GetLayerVersion and
        DeleteLayerVersion on its versions (Lambda developer guide, "Resources and conditions
        for Lambda actions")."""
        functions = self.layout.functions.values()
        names = sorted(
            {
                release_layers.layer_name(self.props.name, layer)
                for function in functions
                for layer in release_layers.names(function.layers)
            }
        )
        if not names:
            return []
        places = dict.fromkeys(contexts)
        layers = [c.arn("lambda", f"layer:{name}") for c in places for name in names]
        return [
            Statement(
                "PublishReleaseLayers",
                ["lambda:ListLayerVersions", "lambda:PublishLayerVersion"],
                layers,
            ),
            Statement(
                "UseReleaseLayers",
                ["lambda:DeleteLayerVersion", "lambda:GetLayerVersion"],
                [f"{arn}:*" for arn in layers],
            ),
            *self.grant_given_layers(),
        ]

    def grant_given_layers(self) -> list[Statement]:
        """Give functions the layers named by ARN: "To add layers to a function, you need
        lambda:GetLayerVersion permission on the layer version" (Lambda developer guide, "Adding
        layers to functions")."""
        functions = self.layout.functions.values()
        given = sorted({a for f in functions for a in f.layers if not is_release_layer(a)})
        return _granted(Statement("UseFunctionLayers", ["lambda:GetLayerVersion"], given))

    def grant_rollback(self, environments: Sequence[str]) -> list[Statement]:
        """Stop deployments and move every alias of `environments` back."""
        return _granted(
            Statement(
                "RestoreAliases",
                ["lambda:GetAlias", "lambda:GetFunctionConfiguration", "lambda:UpdateAlias"],
                [arn for env in environments for arn in self.function_arns(env)],
            ),
            Statement(
                "StopDeployments",
                [
                    "codedeploy:GetDeployment",
                    "codedeploy:ListDeployments",
                    "codedeploy:StopDeployment",
                ],
                [arn for env in environments for arn in self.deployment_group_arns(env)],
            ),
        )

    def grant_traffic_hook(
        self, buckets: ArtifactBuckets, environments: Sequence[str]
    ) -> list[Statement]:
        """Smoke-test new versions and report to the deployment groups of those of
        `environments` that run the hook, nothing else."""
        hooked = [
            e.name
            for e in self.layout.environments
            if e.runs_library_hook and e.name in environments
        ]
        return _granted(
            Statement(
                "ReportHookStatus",
                ["codedeploy:GetDeployment", "codedeploy:PutLifecycleEventHookExecutionStatus"],
                [arn for env in hooked for arn in self.deployment_group_arns(env)],
            ),
            Statement(
                "InvokeNewVersions",
                # GetFunctionConfiguration: which release the new version carries.
                ["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"],
                [arn for env in hooked for arn in self.function_arns(env)],
            ),
            Statement(
                "ReadDeployedReleases",
                ["s3:GetObject", "s3:GetObjectVersion"],
                [f"{buckets.bucket_for(env).arn}/releases/*" for env in hooked],
            ),
        )

    def grant_test_environments(self, environments: Sequence[str]) -> list[Statement]:
        """Invoke those of `environments` that are tested (every environment but the last:
        RunTestsIn<Env>) through their aliases, after reading which release they serve."""
        tested = [env for env in self.environment_names[:-1] if env in environments]
        return _granted(
            Statement(
                "TestThroughLiveAliases",
                ["lambda:GetAlias", "lambda:GetFunctionConfiguration", "lambda:InvokeFunction"],
                [arn for env in tested for arn in self.function_arns(env)],
            )
        )

    def grant_watch_alarms(self, environments: Sequence[str]) -> list[Statement]:
        """Read the state and history of the alarms that watch `environments` (their gates
        and bakes). With several functions the pipeline's own alarms are named by one pattern
        per environment and alarm (<application>-*-<environment>-errors): 20 functions in 10
        environments would otherwise name 400 alarms, more than IAM's policy sizes hold, and
        the pattern grants reading at most another alarm's state."""
        resources: list[str] = []
        for env in environments:
            context = self.context_of(env)
            layout = self.layout.environment(env)
            own = {spec.name for f in layout.functions for spec in f.alarms}
            names = [n for n in self.layout.watched_alarms(env) if n not in own]
            if self.props.single_function:
                names = [*sorted(own), *names]
            else:
                names = [
                    *sorted({f"{self.props.name}-*-{env}-{n.rsplit('-', 1)[1]}" for n in own}),
                    *names,
                ]
            resources += [context.arn("cloudwatch", f"alarm:{name}") for name in names]
        return _granted(
            Statement(
                "WatchEnvironmentAlarms",
                ["cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms"],
                resources,
            )
        )

    def grant_change_calendars(self, environments: Sequence[str]) -> list[Statement]:
        """Read the state of the Change Calendars that open `environments`' windows."""
        calendars = []
        for env in environments:
            window = self.layout.environment(env).window
            if window is None or window.change_calendar is None:
                continue
            calendar = window.change_calendar
            calendars.append(
                calendar
                if calendar.startswith("arn:")
                else self.context_of(env).arn("ssm", f"document/{calendar}")
            )
        return _granted(
            Statement(
                "ReadChangeCalendars", ["ssm:GetCalendarState"], list(dict.fromkeys(calendars))
            )
        )


def _granted(*statements: Statement) -> list[Statement]:
    """The statements that name any resource (an IAM statement needs one)."""
    return [statement for statement in statements if statement.resources]

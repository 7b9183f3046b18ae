"""ServerlessApplication: the Lambda application the pipeline deploys, one function per
environment, each behind a `live` alias that CodeDeploy shifts."""

from __future__ import annotations

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

from ..application_settings import (
    SMOKE_TESTS,
    ApplicationProps,
    placeholder_code,
    runs_library_hook,
    validate_props,
)
from ..layout import EnvironmentLayout, application_layout
from ..naming import ENVIRONMENTS
from ..validation import ConfigurationError
from .artifact_buckets import ArtifactBuckets
from .aws_context import AwsContext
from .encryption import PipelineKey
from .functions import PythonFunction, zip_asset
from .iam import ServiceRole, Statement


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
        self.props = props
        self.layout = application_layout(props, None)
        """Names, deployment configs, alarms and rollback events of every environment: the
        same values the rehearsal lays out (serverless_pipeline/layout.py)."""
        self.uses_library_hook = runs_library_hook(props)
        """Whether any environment runs the library's smoke-test hook (HandlerFunctions then
        deploys it and registers it with `add_library_hook`)."""
        self.traffic_hook_function: str | None = None
        self._context = context
        self._key = key
        code = placeholder_code(props.handler)
        asset = zip_asset(self, "placeholder-code", "placeholder.zip", code)
        self.placeholder = (code, asset)
        """The code every function of the application starts with, and its asset."""
        self.codedeploy_app = CodedeployApp(
            self, "codedeploy", name=props.name, compute_platform="Lambda"
        )
        self.functions: dict[str, PythonFunction] = {}
        self.aliases: dict[str, LambdaAlias] = {}
        self.deployers: dict[str, ServiceRole] = {}
        self.deployment_groups: dict[str, CodedeployDeploymentGroup] = {}
        # environment -> names of the alarms that stop its deployments
        self.alarm_names: dict[str, list[str]] = {}
        for environment in self.layout.environments:
            self._function(environment)
            self._alarms(environment)
            self._deployment_group(environment)

    def _function(self, environment: EnvironmentLayout) -> None:
        """The environment's function and the alias CodeDeploy shifts."""
        props, (code, asset) = self.props, self.placeholder
        function = self.functions[environment.name] = PythonFunction(
            self,
            environment.name,
            function_name=environment.function_name,
            description=f"{props.name} ({environment.name}), deployed by its pipeline",
            code=code,
            asset=asset,
            handler=props.handler,
            runtime=props.runtime,
            memory_mb=props.memory_mb,
            timeout_seconds=props.timeout_seconds,
            environment=environment.variables,
            statements=[],
            key=self._key,
            log_retention_days=props.log_retention_days,
            publish=True,
            ignore_code_changes=True,
            reserved_concurrency=props.reserved_concurrency,
        )
        self.aliases[environment.name] = LambdaAlias(
            self,
            f"{environment.name}-alias",
            name=environment.alias,
            function_name=function.name,
            function_version=function.function.version,
            description=f"Serves {environment.name} traffic; moved by CodeDeploy",
            lifecycle=TerraformResourceLifecycle(
                ignore_changes=["function_version", "routing_config"]
            ),
        )

    def _alarms(self, environment: EnvironmentLayout) -> None:
        self.alarm_names[environment.name] = list(environment.watched_alarms)
        for spec in environment.alarms:
            CloudwatchMetricAlarm(
                self,
                f"{environment.name}-{spec.metric_name.lower()}-alarm",
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

    def _deployment_group(self, environment: EnvironmentLayout) -> None:
        """CodeDeploy's role for the environment (shift the alias, read its alarms, run the
        user's own hooks) and the deployment group that uses it."""
        watched = list(environment.watched_alarms)
        statements = [
            Statement(
                "ShiftAlias",
                ["lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetProvisionedConcurrencyConfig"],
                self.function_arns(environment.name),
            )
        ]
        if watched:
            statements.append(
                Statement(
                    "ReadDeploymentAlarms",
                    ["cloudwatch:DescribeAlarms"],
                    [self._context.arn("cloudwatch", f"alarm:{n}") for n in watched],
                )
            )
        own_hooks = sorted(
            {
                f
                for f in self.props.settings(environment.name).chosen_hooks().values()
                if f != SMOKE_TESTS
            }
        )
        if own_hooks:
            statements.append(
                Statement(
                    "InvokeTrafficHooks",
                    ["lambda:InvokeFunction"],
                    [self._context.arn("lambda", f"function:{name}") for name in own_hooks],
                )
            )
        deployer = self.deployers[environment.name] = ServiceRole(
            self,
            f"{environment.name}-deployer",
            name=f"{environment.function_name}-codedeploy",
            service="codedeploy.amazonaws.com",
            description=f"CodeDeploy shifts {environment.function_name}'s alias",
            statements=statements,
        )
        self.deployment_groups[environment.name] = CodedeployDeploymentGroup(
            self,
            f"{environment.name}-deployment-group",
            app_name=self.codedeploy_app.name,
            deployment_group_name=environment.deployment_group,
            service_role_arn=deployer.arn,
            deployment_config_name=self._deployment_config(environment),
            deployment_style=CodedeployDeploymentGroupDeploymentStyle(
                deployment_type="BLUE_GREEN", deployment_option="WITH_TRAFFIC_CONTROL"
            ),
            alarm_configuration=CodedeployDeploymentGroupAlarmConfiguration(
                alarms=watched, enabled=True
            )
            if watched
            else None,
            auto_rollback_configuration=CodedeployDeploymentGroupAutoRollbackConfiguration(
                enabled=True, events=list(environment.rollback_events)
            ),
        )

    def _deployment_config(self, environment: EnvironmentLayout) -> str:
        """The config's name; a custom shift gets a CodeDeploy deployment config of its own,
        named through the resource's attribute so that Terraform creates the config before the
        deployment group that uses it."""
        shift = environment.custom_shift
        if shift is None:
            return environment.deployment_config
        step = {"interval": shift.interval_minutes, "percentage": shift.percentage}
        config = CodedeployDeploymentConfig(
            self,
            f"{environment.name}-deployment-config",
            deployment_config_name=environment.deployment_config,
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

    def add_library_hook(self, function_name: str) -> None:
        """Register the library's traffic hook (HandlerFunctions does, when it deploys it):
        the environments that chose SMOKE_TESTS run it, and their CodeDeploy roles may invoke
        it and nothing else of the pipeline's."""
        self.traffic_hook_function = function_name
        self.layout = application_layout(self.props, function_name)
        arn = self._context.arn("lambda", f"function:{function_name}")
        for environment, deployer in self.deployers.items():
            if SMOKE_TESTS in self.props.settings(environment).chosen_hooks().values():
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
        return dict(self.layout.environment(environment).hooks)

    def deployment_config_name(self, environment: str) -> str:
        return self.layout.environment(environment).deployment_config

    def function_name(self, environment: str) -> str:
        return self.layout.environment(environment).function_name

    def deployment_group_name(self, environment: str) -> str:
        return self.layout.environment(environment).deployment_group

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
                # GetFunctionConfiguration: which release the new version carries.
                ["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"],
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

"""HandlerFunctions: the validate, run_tests, promote and rollback Lambdas of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from .. import defaults, naming
from ..application_settings import FunctionSettings
from ..assets import handlers_package
from ..engine import TerraformResourceLifecycle, aws
from ..layout import handlers_layout
from ..naming import HANDLER_NAMES
from ..pipeline_settings import validate_handler_settings
from ..validation import NAME_PREFIX, NAME_PREFIX_ACCEPTED, ConfigurationError, Problems
from .application import ServerlessApplication
from .artifact_buckets import ArtifactBuckets
from .aws_context import AwsContext
from .encryption import PipelineKey
from .functions import LoggedFunction, zip_asset
from .iam import ServiceRole, Statement, merge_by_resources
from .image_repository import ImageRepository
from .notifications import Notifications


@dataclass(frozen=True)
class HandlerFunctionsProps:
    """Props of `HandlerFunctions`."""

    name_prefix: str
    """Function names are <prefix>-validate, <prefix>-run-tests, <prefix>-promote, ..."""
    test_manifest: str = "release-tests.json"
    """Path of the test manifest inside each release zip."""
    runtime: str = defaults.LAMBDA_RUNTIME
    """Lambda runtime of the handlers."""
    memory_mb: int = defaults.HANDLER_MEMORY_MB
    """Memory of each handler, 128-10240 MB; omitted: 1024, which holds the largest release
    validate accepts. Smaller saves little and fails on large releases. No handler writes a
    release to /tmp, so the default 512 MB of ephemeral storage is enough."""
    timeout_seconds: int = defaults.HANDLER_TIMEOUT_SECONDS
    """Timeout of each handler, 1-900 s."""
    deployment_timeout_seconds: int = defaults.DEPLOYMENT_TIMEOUT_SECONDS
    """How long one CodeDeploy deployment may run before it counts as failed."""
    test_case_timeout_seconds: int = defaults.TEST_CASE_TIMEOUT_SECONDS
    """How long one test case of a candidate release may run: the candidate function's
    timeout."""
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    """Retention of the handlers' log groups."""
    line_wait_minutes: int = defaults.LINE_WAIT_MINUTES
    """How long a release waits before its first environment while the line is stopped."""
    reserved_concurrency: int | None = defaults.HANDLER_RESERVED_CONCURRENCY
    """Concurrency reserved for (and capping) each handler; omitted: none reserved. Reserving
    guarantees the pipeline can run while the application uses the whole account's concurrency,
    and caps what a runaway handler can take (2 is enough: one release at a time, plus a
    retry). Lambda refuses any reservation that leaves the account's unreserved pool under its
    minimum, so reserving fails to apply on accounts whose concurrency quota is still low."""


class HandlerFunctions(Construct):
    """One function per handler, all from one deterministic zip of `serverless_pipeline/handlers`,
    each with a role that allows exactly its job."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: HandlerFunctionsProps,
        *,
        key: PipelineKey,
        buckets: ArtifactBuckets,
        application: ServerlessApplication,
        notifications: Notifications,
        context: AwsContext,
        images: ImageRepository | None = None,
    ) -> None:
        """`images`: the repository of the release images, where some function is an image
        (the image candidate starts from it, and the handlers deploy and check its images)."""
        super().__init__(scope, id)
        problems = Problems("HandlerFunctions")
        problems.pattern("name_prefix", props.name_prefix, NAME_PREFIX, NAME_PREFIX_ACCEPTED)
        validate_handler_settings(
            problems,
            test_manifest=props.test_manifest,
            runtime=props.runtime,
            memory_mb=props.memory_mb,
            timeout_seconds=props.timeout_seconds,
            deployment_timeout_seconds=props.deployment_timeout_seconds,
            test_case_timeout_seconds=props.test_case_timeout_seconds,
            line_wait_minutes=props.line_wait_minutes,
            log_retention_days=props.log_retention_days,
            reserved_concurrency=props.reserved_concurrency,
        )
        problems.raise_if_any()
        app = application.layout
        missing = [e for e in app.environment_names if e not in buckets.environment_buckets]
        if missing:
            raise ConfigurationError(
                "HandlerFunctions",
                [
                    f"the application deploys to {', '.join(missing)}, which the ArtifactBuckets "
                    "have no bucket for; give ArtifactBucketsProps(environments=application."
                    "environment_names)"
                ],
            )
        self.layout = handlers_layout(
            props.name_prefix,
            application.props,
            runtime=props.runtime,
            memory_mb=props.memory_mb,
            timeout_seconds=props.timeout_seconds,
            test_case_timeout_seconds=props.test_case_timeout_seconds,
            deployment_timeout_seconds=props.deployment_timeout_seconds,
            test_manifest=props.test_manifest,
            line_wait_minutes=props.line_wait_minutes,
        )
        """Function names, timeouts and environment: the values the rehearsal lays out too."""
        problems = Problems("HandlerFunctions")
        too_large = self.layout.environment_size_problem(app)
        if too_large:
            problems.add(too_large)
        # An application function named like one of the pipeline's (application "shop",
        # function "run" in "tests" against prefix "shop") would be created twice.
        own = {
            *self.layout.functions.values(),
            *self.layout.placed_hooks.values(),
            self.layout.candidate_function,
            *filter(None, [self.layout.image_candidate_function]),
        }
        for placed_in, placed in app.targets():
            if placed.function_name in own:
                problems.add(
                    f"function {placed.key!r} in {placed_in.name!r} would be named "
                    f"{placed.function_name!r}, like one of the pipeline's own functions; "
                    "rename the application, the function or the environment"
                )
        problems.raise_if_any()
        placeholder, placeholder_asset = application.placeholder
        candidate_name = self.layout.candidate_function

        def candidate(
            id: str, name: str, description: str, first: FunctionSettings, **code: Any
        ) -> LoggedFunction:
            """Runs a candidate release's test cases for run_tests, as the application would
            run: the first function's runtime, handler and architecture to begin with, the most
            memory; its role can only write its logs."""
            return LoggedFunction(
                self,
                id,
                function_name=name,
                description=description,
                handler=first.handler,
                architecture=first.architecture,
                memory_mb=app.largest_memory_mb,
                timeout_seconds=props.test_case_timeout_seconds,
                environment={},
                statements=[],
                key=key,
                log_retention_days=props.log_retention_days,
                sandboxed=True,
                **code,
            )

        # Where some function runs from the zip.
        self.candidate = (
            candidate(
                "candidate",
                candidate_name,
                "Deployment pipeline: runs a candidate release's test cases",
                app.first,
                code=placeholder,
                asset=placeholder_asset,
                runtime=str(app.first.runtime),
            )
            if app.zipped
            else None
        )
        # The image functions' cases run in an image candidate, sandboxed alike: a zip function
        # cannot switch to an image. It starts from the bootstrap image, as they do.
        image_candidate = self.layout.image_candidate_function
        first_image = app.first_image
        self.image_candidate = (
            candidate(
                "candidate-image",
                image_candidate,
                "Deployment pipeline: runs a candidate release image's test cases",
                first_image,
                image_uri=images.bootstrap_image,
                runtime=None,
            )
            if images and image_candidate and first_image
            else None
        )
        candidates = [
            context.arn("lambda", f"function:{name}")
            for name, created in (
                (candidate_name, self.candidate),
                (image_candidate, self.image_candidate),
            )
            if created and name
        ]
        if application.uses_library_hook:
            application.add_library_hook(naming.handler_function(props.name_prefix, "traffic_hook"))
        code = handlers_package()
        asset = zip_asset(self, "code", "handlers.zip", code)
        self.application_layout = application.layout
        """The application as these handlers deploy it: its environments, their order and
        approval gates (DeploymentStateMachine composes its definition from them)."""
        environment = self.layout.environment(
            application.layout,
            artifact_bucket=buckets.artifact_bucket.bucket,
            buckets={env: buckets.bucket_for(env).bucket for env in app.environment_names},
            notification_topic=notifications.arn,
            pipeline_account=context.account_id,
            pipeline_partition=context.partition,
            image_repository=images.url if images else None,
        )
        # Stop the line: one switch per pipeline. Terraform creates it open and leaves its value
        # to the people who stop and open the line.
        switch = self.layout.line_switch
        self.line_switch = aws.ssm_parameter.SsmParameter(
            self,
            "line-switch",
            name=switch,
            type="String",
            value="open",
            description=f"Stop the {props.name_prefix} pipeline's line: 'stopped' holds every "
            "release before its first environment; 'open' lets them go",
            lifecycle=TerraformResourceLifecycle(ignore_changes=["value"]),
        )
        local = application.local_environments
        claims_elsewhere = app.claims_environment is None
        read = buckets.grant_read_releases()
        records = [
            *([buckets.grant_environment_records(local)] if local else []),
            *([buckets.grant_claim_record()] if claims_elsewhere else []),
            *(
                [buckets.grant_list_environment_records(local, artifacts=claims_elsewhere)]
                if local or claims_elsewhere
                else []
            ),
        ]
        # Who acts in each environment elsewhere, through its deployment role there.
        users = {env.name: app.acting_handlers(env.name) for env in app.placed}
        role_arns = {
            env.name: env.placement.deployment_role_arn(context.account_id, context.partition)
            for env in app.placed
            if env.placement
        }

        def assume(handler: str) -> list[Statement]:
            arns = [role_arns[env] for env, names in users.items() if handler in names]
            return [Statement("ActInOtherAccounts", ["sts:AssumeRole"], arns)] if arns else []

        pull = [images.grant_pull()] if images else []
        grants: dict[str, list[Statement]] = {
            "validate": [read, *([images.grant_inspect()] if images else [])],
            "run_tests": [
                read,
                *application.grant_test_environments(local),
                *assume("run_tests"),
                Statement(
                    "RunCandidateReleases",
                    [
                        "lambda:GetFunction",
                        "lambda:GetFunctionConfiguration",
                        "lambda:InvokeFunction",
                        "lambda:PublishVersion",
                        "lambda:UpdateFunctionCode",
                        "lambda:UpdateFunctionConfiguration",
                    ],
                    [arn for candidate in candidates for arn in (candidate, f"{candidate}:*")],
                ),
                # Qualified ARNs only: versions can go, the function itself cannot.
                Statement(
                    "DeleteCandidateVersions",
                    ["lambda:DeleteFunction"],
                    [f"{candidate}:*" for candidate in candidates],
                ),
                *pull,
                # The candidate takes each function's layers, those built from the release
                # published in the pipeline's account and region.
                *(application.grant_release_layers([context]) or application.grant_given_layers()),
            ],
            "promote": [
                read,
                *records,
                _write_with_key(key),
                # Its claim cleans up after an execution that ended without the cleanup rule's
                # rollback (promote.claim runs the rollback's restore): the rollback's actions,
                # on the functions and deployment groups promote's own statements name.
                *merge_by_resources(
                    [*application.grant_promote(local), *application.grant_rollback(local)]
                ),
                *pull,
                *application.grant_watch_alarms(local),
                *application.grant_change_calendars(local),
                Statement(
                    "ReadLineSwitch",
                    ["ssm:GetParameter"],
                    [context.arn("ssm", f"parameter{switch}")],
                ),
                *assume("promote"),
                # Subscribers hear when a release starts waiting at a gate.
                *notifications.grant_publish(),
            ],
            # The state machine grants what its executions need (DeploymentStateMachine's
            # grant_read_execution_history, grant_describe_executions and grant_task_response):
            # it owns those ARNs.
            # Publish: what the cleanup restored, and (as Lambda's on-failure destination, with
            # the function's own role) a cleanup that failed.
            "rollback": [
                *records,
                _write_with_key(key),
                *application.grant_rollback(local),
                *assume("rollback"),
                *notifications.grant_publish(),
            ],
            "approval": [
                *buckets.grant_approval_records(app.approvals_environment),
                _write_with_key(key),
                *notifications.grant_publish(),
            ],
        }
        purposes = {
            "validate": "checks that a release artifact is sound",
            "run_tests": "runs a release's own test cases",
            "promote": "moves an environment to a release through CodeDeploy",
            "rollback": "restores environments to the release they served before",
            "approval": "asks for and records a person's approval of a release",
            "traffic_hook": "smoke-tests a new version for CodeDeploy",
        }

        def handler_function(
            name: str,
            statements: list[Statement],
            *,
            id: str | None = None,
            function_name: str | None = None,
            function_key: PipelineKey = key,
        ) -> LoggedFunction:
            return LoggedFunction(
                self,
                id or name.replace("_", "-"),
                function_name=function_name or self.layout.functions[name],
                description=f"Deployment pipeline: {purposes[name]}",
                code=code,
                asset=asset,
                handler=f"handlers.{name}.handler",
                runtime=props.runtime,
                memory_mb=props.memory_mb,
                timeout_seconds=props.timeout_seconds,
                environment=environment,
                statements=statements,
                key=function_key,
                log_retention_days=props.log_retention_days,
                reserved_concurrency=props.reserved_concurrency,
            )

        self.functions: dict[str, LoggedFunction] = {
            name: handler_function(name, grants[name]) for name in HANDLER_NAMES
        }
        # CodeDeploy's hook, not the state machine's: it is kept out of `functions`, so the
        # state machine gets no permission to invoke it. Deployed only where an environment
        # uses it (SMOKE_TESTS): an unused function is only more to patch and audit.
        self.traffic_hook: LoggedFunction | None = (
            handler_function("traffic_hook", application.grant_traffic_hook(buckets, local))
            if "traffic_hook" in self.layout.functions
            else None
        )
        # CodeDeploy invokes a hook where the deployment runs: an environment elsewhere that
        # runs the library's hook has one of its own there.
        self.placed_traffic_hooks: dict[str, LoggedFunction] = {}
        for env, hook_name in self.layout.placed_hooks.items():
            home = buckets.placements[env]
            with home.creating_in(self):
                self.placed_traffic_hooks[env] = handler_function(
                    "traffic_hook",
                    application.grant_traffic_hook(buckets, [env]),
                    id=f"traffic-hook-{env}",
                    function_name=hook_name,
                    function_key=home.key,
                )
        # The one way into an environment elsewhere: a role there that only the handlers that
        # act there may assume, allowed exactly what they do there.
        self.deployment_roles: dict[str, ServiceRole] = {}
        for placed_env in app.placed:
            env = placed_env.name
            assert placed_env.placement is not None
            home = buckets.placements[env]
            with home.creating_in(self):
                self.deployment_roles[env] = ServiceRole(
                    self,
                    f"deployment-role-{env}",
                    name=placed_env.placement.deployment_role,
                    service=None,
                    trusted_roles=[self.functions[h].role.arn for h in users[env]],
                    description=f"The {props.name_prefix} pipeline's handlers act in {env} "
                    "through this role",
                    statements=[
                        buckets.grant_environment_records([env]),
                        buckets.grant_list_environment_records([env]),
                        Statement(
                            "UseEnvironmentKey",
                            ["kms:Decrypt", "kms:GenerateDataKey"],
                            [home.key.arn],
                        ),
                        *application.grant_promote([env]),
                        *application.grant_watch_alarms([env]),
                        *application.grant_change_calendars([env]),
                        *application.grant_rollback([env]),
                        *application.grant_test_environments([env]),
                        *pull,
                    ],
                )

    @property
    def timeout_seconds(self) -> int:
        """Every handler's timeout: the state machine's tasks wait at least this long."""
        return self.layout.timeout_seconds

    @property
    def validate(self) -> LoggedFunction:
        return self.functions["validate"]

    @property
    def run_tests(self) -> LoggedFunction:
        return self.functions["run_tests"]

    @property
    def promote(self) -> LoggedFunction:
        return self.functions["promote"]

    @property
    def rollback(self) -> LoggedFunction:
        return self.functions["rollback"]

    @property
    def approval(self) -> LoggedFunction:
        return self.functions["approval"]


def _write_with_key(key: PipelineKey) -> Statement:
    """SSE-KMS writes to the environment buckets (reads are in every function's base role)."""
    return Statement("WriteWithPipelineKey", ["kms:GenerateDataKey"], [key.arn])

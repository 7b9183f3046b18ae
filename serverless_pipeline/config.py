"""PipelineConfig: everything the example stack (and `ServerlessPipelineStack`) is built from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from . import asl, defaults
from .application_settings import (
    ApplicationProps,
    Environment,
    FunctionSettings,
    application_problems,
    shift_minutes,
)
from .build_settings import BuildSettings, ConnectionSource, S3Source, validate_source_and_build
from .handlers.events import RELEASE_LAYER
from .handlers.release_layers import is_release_layer
from .pipeline_settings import validate_handler_settings, validate_state_machine_settings
from .subscribers import Subscriber, validate_subscribers
from .validation import AWS_REGIONS, NAME_PREFIX, NAME_PREFIX_ACCEPTED, Problems, partition_of


@dataclass(frozen=True)
class LocalBackend:
    """State in a local file; the path is relative so the output does not name this machine."""

    path: str = "terraform.tfstate"
    """State file, relative to the stack's directory in cdktf.out; omitted: terraform.tfstate."""


@dataclass(frozen=True)
class S3Backend:
    """State in an S3 bucket, encrypted, with S3-native locking."""

    bucket: str
    """Existing bucket that holds the state."""
    key: str
    """Object key of the state file, relative (e.g. orders/terraform.tfstate)."""
    region: str
    """Region of the state bucket."""
    kms_key_id: str | None = None
    """KMS key for the state object; omitted: the bucket's default encryption (SSE-S3)."""


@dataclass(frozen=True)
class CloudBackend:
    """State and runs in HCP Terraform / Terraform Cloud: the synthesized stack runs there as is."""

    organization: str
    """Terraform Cloud organization."""
    workspace: str
    """Workspace that runs this stack (created on first use if the organization allows)."""
    hostname: str = "app.terraform.io"
    """Terraform Cloud or Enterprise host; omitted: app.terraform.io."""


Backend = LocalBackend | S3Backend | CloudBackend
"""Where Terraform keeps the stack's state: `PipelineConfig.backend` takes any of the three."""

# Time a deployment needs beyond shifting traffic: its hooks, and CodeDeploy's last step.
DEPLOYMENT_MARGIN_SECONDS = 600
# Step Functions keeps at most 25,000 events in an execution's history (service quotas); one
# turn of a deployment wait loop writes 9, and everything else a release does fewer than 300,
# plus about 30 per environment (deploy, tests, approval).
HISTORY_EVENTS = 25_000
EVENTS_PER_POLL = 9
EVENTS_OUTSIDE_POLLING = 300
EVENTS_PER_ENVIRONMENT = 30
# CodePipeline's StepFunctions invoke action fails after 7 days (its default action timeout)
# even if the execution goes on; the deploy stage must end within it.
ACTION_TIMEOUT_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class PipelineConfig:
    """One pipeline for one application."""

    name: str
    """Prefix of every resource name; 3-20 lowercase letters, digits or '-'."""
    region: str
    """AWS region of the provider ServerlessPipelineStack creates; inside your own stack
    (ServerlessPipeline) your provider's region applies. Either way, an environment in another
    account that names no region of its own is created in this one."""
    application: ApplicationProps
    """The application being deployed."""
    source: S3Source | ConnectionSource = field(default_factory=S3Source)
    """Where releases come from; omitted: an S3 upload to source/app.zip."""
    build: BuildSettings = field(default_factory=BuildSettings)
    """How each release is built; omitted: BuildSettings' defaults."""
    backend: Backend = field(default_factory=LocalBackend)
    """Terraform state of ServerlessPipelineStack; omitted: a local file. Inside your own
    stack, your stack's backend applies."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Default tags of every resource: the default_tags of the provider ServerlessPipelineStack
    creates and of the providers of environments in their own account or region. Inside your
    own stack, give your provider default_tags."""
    test_manifest: str = "release-tests.json"
    """Path of the test manifest inside each release zip."""
    poll_interval_seconds: int = defaults.POLL_INTERVAL_SECONDS
    """Seconds between checks of a running deployment."""
    deployment_timeout_seconds: int = defaults.DEPLOYMENT_TIMEOUT_SECONDS
    """How long one CodeDeploy deployment may run before it counts as failed."""
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    """Retention of every log group the pipeline creates."""
    force_destroy_buckets: bool = False
    """Let `terraform destroy` delete non-empty buckets; off by default."""
    approval_timeout_seconds: int | None = None
    """Require a person's approval before production (the default pair of environments),
    rolling back after this many seconds without an answer; omitted: releases go to production
    without waiting. With `environments=`, set Environment.approval_timeout_seconds instead."""
    environments: Sequence[Environment] | None = None
    """The environments a release goes through, in order (1-10); omitted: the application's
    staging then production."""
    subscribers: Sequence[Subscriber] = field(default_factory=tuple)
    """Who hears about every release outcome and approval request (email, https, sqs, lambda);
    omitted: nobody yet (the topic exists either way)."""
    line_wait_minutes: int = defaults.LINE_WAIT_MINUTES
    """While the line is stopped (the stop-the-line switch, an SSM parameter), how long a
    release waits before its first environment before it fails with LineStopped, 1-4320;
    omitted: 60."""
    handler_reserved_concurrency: int | None = defaults.HANDLER_RESERVED_CONCURRENCY
    """Concurrency reserved for each pipeline handler (HandlerFunctionsProps.
    reserved_concurrency); omitted: none, which applies on every account. Lambda refuses a
    reservation that leaves fewer than 100 unreserved executions in the account."""

    def application_props(self) -> ApplicationProps:
        """The application with this pipeline's environments; an environment in another
        account that names no region is in the pipeline's (where its provider creates it, and
        where the handlers look for it)."""
        if self.environments is None:
            return self.application
        return replace(
            self.application,
            environments=tuple(
                replace(e, region=self.region)
                if isinstance(e, Environment) and e.account_id is not None and e.region is None
                else e
                for e in self.environments
            ),
        )

    def _validate_environments(self, problems: Problems) -> None:
        if self.environments is None:
            return
        home = partition_of(self.region) if self.region in AWS_REGIONS else None
        for environment in self.environments:
            if not isinstance(environment, Environment):
                continue
            where = f"environments[{environment.name!r}]"
            if environment.account_id is None and environment.region == self.region:
                problems.add(
                    f"{where}.region is the pipeline's own region {self.region} and it names no "
                    "account: it is the pipeline's account and region; omit region"
                )
            region = environment.region or self.region
            if home and region in AWS_REGIONS and partition_of(region) != home:
                problems.add(
                    f"{where}.region {region} is in partition {partition_of(region)} but the "
                    f"pipeline's region {self.region} is in {home}: roles cannot be assumed "
                    "across partitions; run a pipeline in that partition"
                )
        if self.application.environments is not None:
            problems.add("environments is set both here and on application; give them in one place")
        if self.approval_timeout_seconds is not None:
            problems.add(
                f"approval_timeout_seconds is {self.approval_timeout_seconds} beside "
                "environments=; set approval_timeout_seconds on the Environment that waits"
            )

    def _validate_timing(self, problems: Problems) -> None:
        """The deadlines of different constructs must fit each other and AWS's limits: a
        deployment deadline shorter than its traffic shift fails every release, a wait loop
        longer than the execution history quota ends without a rollback, and an execution that
        outlives the pipeline's action lets the next release start beside it."""
        timeout = self.deployment_timeout_seconds
        poll = self.poll_interval_seconds
        if not (isinstance(timeout, int) and 60 <= timeout <= 86400) or not (
            isinstance(poll, int) and 5 <= poll <= 3600
        ):
            return  # the constructs name out-of-range values
        environments = self.application_props().environment_list(self.approval_timeout_seconds)
        windows = [e.deployment_window for e in environments if isinstance(e, Environment)]
        numbers = [
            self.line_wait_minutes,
            *(e.bake_minutes for e in environments if isinstance(e, Environment)),
            *(w.max_wait_minutes for w in windows if w is not None),
        ]
        if not all(isinstance(e, Environment) for e in environments) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in numbers
        ):
            return  # the application (or validate_pipeline) names them
        waits = [w.max_wait_minutes * 60 if w is not None else 0 for w in windows]
        for index, environment in enumerate(environments):
            shift = environment.shift(index == len(environments) - 1)
            minutes = shift_minutes(shift)
            if not minutes:
                continue  # all at once: done in moments
            if timeout < minutes * 60 + DEPLOYMENT_MARGIN_SECONDS:
                name = shift if isinstance(shift, str) else shift.config_name
                problems.add(
                    f"deployment_timeout_seconds is {timeout} but {environment.name}'s deployment "
                    f"config {name} shifts traffic for {minutes} minutes; give at least "
                    f"{minutes * 60 + DEPLOYMENT_MARGIN_SECONDS} (the shift and "
                    f"{DEPLOYMENT_MARGIN_SECONDS // 60} minutes for hooks)"
                )
        count = len(environments)
        outside = EVENTS_OUTSIDE_POLLING + EVENTS_PER_ENVIRONMENT * count
        polls = count * -(-timeout // poll)
        if polls * EVENTS_PER_POLL + outside > HISTORY_EVENTS:
            # The smallest interval whose whole polls (rounded up) fit the history.
            most_polls = (HISTORY_EVENTS - outside) // (count * EVENTS_PER_POLL)
            fewest = -(-timeout // most_polls)
            problems.add(
                f"poll_interval_seconds is {poll}: with deployment_timeout_seconds {timeout}, "
                f"{count} deployments can poll {polls} times, more than Step Functions' "
                f"{HISTORY_EVENTS}-event execution history holds; give at least {fewest}"
            )
        approval = sum(e.approval_timeout_seconds or 0 for e in environments)
        task = defaults.HANDLER_TIMEOUT_SECONDS + defaults.TASK_MARGIN_SECONDS
        gates = asl.gate_seconds(
            [e.bake_minutes * 60 for e in environments], waits, self.line_wait_minutes * 60, task
        )
        longest = asl.execution_timeout_seconds(
            [(e.name, e.approval_timeout_seconds) for e in environments],
            deployment_timeout_seconds=timeout,
            poll_interval_seconds=poll,
            task_timeout_seconds=task,
            gate_seconds=gates,
        )
        if longest > ACTION_TIMEOUT_SECONDS:
            problems.add(
                f"a release may take up to {longest} s (approval timeouts of {approval} s in "
                f"all, waits and bakes at the gates of {gates} s, {count} deployments of up "
                f"to {timeout} s, its tasks and its rollback), more than CodePipeline's 7-day "
                f"action timeout ({ACTION_TIMEOUT_SECONDS} s); shorten the approval timeouts, "
                "the windows' max_wait_minutes, bake_minutes, line_wait_minutes or "
                "deployment_timeout_seconds"
            )

    def validate_pipeline(self) -> None:
        """Everything `ServerlessPipeline` uses, in one pass: the application, the settings of
        each construct the pipeline is made of, and the checks across them, so that a
        configuration with mistakes in several parts lists them all in one error."""
        problems = Problems("PipelineConfig")
        self._validate_parts(problems)
        problems.raise_if_any()

    def _validate_parts(self, problems: Problems) -> None:
        application = self.application_props()
        known = len(problems.items)
        application_problems(problems, application)
        sound = len(problems.items) == known
        problems.pattern("name", self.name, NAME_PREFIX, NAME_PREFIX_ACCEPTED)
        validate_source_and_build(
            problems,
            self.source,
            self.build,
            application.function_runtimes() if sound else None,
            application.image_architecture() if sound else None,
        )
        validate_handler_settings(
            problems,
            test_manifest=self.test_manifest,
            runtime=defaults.LAMBDA_RUNTIME,
            memory_mb=defaults.HANDLER_MEMORY_MB,
            timeout_seconds=defaults.HANDLER_TIMEOUT_SECONDS,
            deployment_timeout_seconds=self.deployment_timeout_seconds,
            test_case_timeout_seconds=defaults.TEST_CASE_TIMEOUT_SECONDS,
            line_wait_minutes=self.line_wait_minutes,
            log_retention_days=self.log_retention_days,
            reserved_concurrency=self.handler_reserved_concurrency,
        )
        validate_state_machine_settings(
            problems,
            poll_interval_seconds=self.poll_interval_seconds,
            log_retention_days=self.log_retention_days,
            approval_timeout_seconds=self.approval_timeout_seconds,
        )
        validate_subscribers(problems, self.subscribers)
        self._validate_environments(problems)
        self._validate_images(problems)
        self._validate_layers(problems)
        self._validate_timing(problems)

    def _validate_images(self, problems: Problems) -> None:
        """Image functions are pulled from the pipeline's repository, which only functions of
        its own region can use: "The Amazon ECR repository must be in the same AWS Region as the
        Lambda function" (Lambda developer guide, "Create a Lambda function using a container
        image"); another account of the region may pull through the repository's policy."""
        application = self.application_props()
        if application.image_architecture() is None:
            return
        for environment in application.environment_list():
            if not isinstance(environment, Environment):
                continue
            region = environment.region or self.region
            if region != self.region:
                problems.add(
                    f"environments[{environment.name!r}].region is {region}, but the image "
                    f"functions are pulled from the pipeline's repository in {self.region}, and "
                    "Lambda pulls images only from its own region (replicating the repository "
                    "is not offered); deploy image functions to environments in "
                    f"{self.region}, or package them as Zip"
                )

    def _validate_layers(self, problems: Problems) -> None:
        """A layer serves functions of its own region only: "The layer and the function must
        be in the same AWS Region" (Lambda developer guide, "Adding layers to functions"). Every
        environment runs each function, and the candidate runs it in the pipeline's region."""
        application = self.application_props()
        regions = {"the candidate function": self.region}
        for environment in application.environment_list():
            if isinstance(environment, Environment):
                regions[f"environment {environment.name!r}"] = environment.region or self.region
        built = self.build.layers if isinstance(self.build.layers, Mapping) else {}
        used: set[str] = set()
        for key, function in application.function_settings().items():
            if not isinstance(function, FunctionSettings) or isinstance(function.layers, str):
                continue
            for layer in function.layers:
                if isinstance(layer, str) and is_release_layer(layer):
                    used.add(layer)
                    # A name no layer may have is the application's to report.
                    if layer not in built and RELEASE_LAYER.fullmatch(layer):
                        problems.add(
                            f"functions[{key!r}].layers item {layer!r} is no layer the build "
                            f"makes; expected a layer version ARN or one of build.layers "
                            f"({', '.join(sorted(built)) or 'none'})"
                        )
                    continue
                layer_region = layer.split(":")[3] if layer.count(":") >= 6 else None
                away = [where for where, region in regions.items() if region != layer_region]
                if layer_region and away:
                    problems.add(
                        f"functions[{key!r}].layers item {layer} is in {layer_region}, but "
                        f"{', '.join(away)} run the function in "
                        f"{' and '.join(sorted({regions[w] for w in away}))}; a function takes "
                        "layers from its own region only: publish the layer there, or keep "
                        "the environments in one region"
                    )
        for unused in sorted(set(built) - used):
            problems.add(
                f"build.layers[{unused!r}] is built with every release, but no function takes "
                "it; add it to a function's layers, or remove it"
            )

    def validate(self) -> None:
        """Everything `ServerlessPipelineStack` uses, in one pass: the pipeline's parts
        (validate_pipeline), and the region, backend and tags of its provider and state."""
        problems = Problems("PipelineConfig")
        problems.region("region", self.region)
        backend = self.backend
        if isinstance(backend, S3Backend):
            problems.region("backend.region", backend.region)
            problems.pattern(
                "backend.bucket",
                backend.bucket,
                r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
                "an S3 bucket name",
            )
            if not backend.key or backend.key.startswith("/"):
                problems.add(f"backend.key is {backend.key!r}; expected a relative object key")
        elif isinstance(backend, CloudBackend):
            problems.pattern(
                "backend.organization",
                backend.organization,
                r"[A-Za-z0-9_-]{1,40}",
                "a Terraform Cloud organization name",
            )
            problems.pattern(
                "backend.workspace",
                backend.workspace,
                r"[A-Za-z0-9_-]{1,90}",
                "a Terraform Cloud workspace name",
            )
        elif isinstance(backend, LocalBackend):
            if backend.path.startswith("/"):
                problems.add(f"backend.path is {backend.path!r}; expected a relative path")
        else:
            problems.add(
                f"backend is {backend!r}; expected LocalBackend, S3Backend or CloudBackend"
            )
        self._validate_parts(problems)
        for key, value in self.tags.items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                problems.add(f"tags key {key!r} is not allowed; 1-128 characters, not aws:")
            if len(value) > 256:
                problems.add(f"tags[{key!r}] is longer than 256 characters")
        problems.raise_if_any()

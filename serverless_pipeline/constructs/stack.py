"""ServerlessPipelineStack: the whole pipeline for one application, from one PipelineConfig."""

from __future__ import annotations

from constructs import Construct

from ..config import CloudBackend, LocalBackend, PipelineConfig, S3Backend
from ..engine import CloudBackend as TfCloudBackend
from ..engine import LocalBackend as TfLocalBackend
from ..engine import NamedCloudWorkspace, TerraformStack, aws
from ..engine import S3Backend as TfS3Backend
from ..layout import pipeline_layout
from .application import ServerlessApplication
from .artifact_buckets import ArtifactBuckets, ArtifactBucketsProps
from .aws_context import AwsContext
from .encryption import PipelineKey, PipelineKeyProps
from .handler_functions import HandlerFunctions, HandlerFunctionsProps
from .image_repository import ImageRepository
from .monitoring import PipelineMonitoring
from .notifications import Notifications, NotificationsProps
from .pipeline import DeployPipeline, DeployPipelineProps
from .placement import environment_placements
from .state_machine import DeploymentStateMachine, DeploymentStateMachineProps


class ServerlessPipeline(Construct):
    """Every construct of the pipeline, composed for one application. Use it inside your own
    stack; `ServerlessPipelineStack` wraps it with a provider and a backend."""

    def __init__(self, scope: Construct, id: str, config: PipelineConfig) -> None:
        super().__init__(scope, id)
        # Every part of the configuration at once, before any construct exists. Region, backend
        # and tags belong to the stack (ServerlessPipelineStack checks them).
        config.validate_pipeline()
        application = config.application_props()
        name = config.name
        self.context = AwsContext(self, "context")
        image_architecture = application.image_architecture()
        self.key = PipelineKey(
            self,
            "key",
            PipelineKeyProps(name_prefix=name, images=image_architecture is not None),
            self.context,
        )
        # The handlers as the layout computes them for this config, the rehearsal's too.
        layout = pipeline_layout(config)
        self.placements = environment_placements(
            self,
            layout.application,
            name_prefix=name,
            pipeline_region=config.region,
            tags=config.tags,
        )
        """Environment -> where it lives, for the environments in their own account or
        region."""
        self.buckets = ArtifactBuckets(
            self,
            "buckets",
            ArtifactBucketsProps(
                name_prefix=name,
                force_destroy=config.force_destroy_buckets,
                environments=[e.name for e in application.environment_list()],
            ),
            key=self.key,
            context=self.context,
            placements=self.placements,
        )
        # The repository of the release images, where some function is an image.
        self.images = (
            ImageRepository(
                self,
                "images",
                name_prefix=name,
                application=layout.application,
                handlers=layout.handlers,
                key=self.key,
                context=self.context,
                placements=self.placements,
            )
            if image_architecture is not None
            else None
        )
        self.application = ServerlessApplication(
            self,
            "application",
            application,
            key=self.key,
            context=self.context,
            placements=self.placements,
            images=self.images,
        )
        self.notifications = Notifications(
            self,
            "notifications",
            NotificationsProps(name_prefix=name, subscribers=config.subscribers),
            key=self.key,
            context=self.context,
        )
        handlers = layout.handlers
        handler_props = HandlerFunctionsProps(
            name_prefix=handlers.prefix,
            test_manifest=handlers.test_manifest,
            runtime=handlers.runtime,
            memory_mb=handlers.memory_mb,
            timeout_seconds=handlers.timeout_seconds,
            deployment_timeout_seconds=handlers.deployment_timeout_seconds,
            test_case_timeout_seconds=handlers.test_case_timeout_seconds,
            log_retention_days=config.log_retention_days,
            reserved_concurrency=config.handler_reserved_concurrency,
            line_wait_minutes=config.line_wait_minutes,
        )
        self.handlers = HandlerFunctions(
            self,
            "handlers",
            handler_props,
            key=self.key,
            buckets=self.buckets,
            application=self.application,
            notifications=self.notifications,
            context=self.context,
            images=self.images,
        )
        self.state_machine = DeploymentStateMachine(
            self,
            "state-machine",
            DeploymentStateMachineProps(
                name_prefix=name,
                poll_interval_seconds=config.poll_interval_seconds,
                log_retention_days=config.log_retention_days,
                approval_timeout_seconds=config.approval_timeout_seconds,
            ),
            handlers=self.handlers,
            notifications=self.notifications,
            key=self.key,
            context=self.context,
        )
        self.monitoring = PipelineMonitoring(
            self,
            "monitoring",
            state_machine=self.state_machine,
            handlers=self.handlers,
            application=self.application,
            notifications=self.notifications,
            context=self.context,
        )
        self.pipeline = DeployPipeline(
            self,
            "pipeline",
            DeployPipelineProps(
                name_prefix=name,
                source=config.source,
                build=config.build,
                test_manifest=config.test_manifest,
                log_retention_days=config.log_retention_days,
                function_runtimes=application.function_runtimes(),
                image_architecture=image_architecture,
            ),
            buckets=self.buckets,
            key=self.key,
            state_machine=self.state_machine,
            context=self.context,
            images=self.images,
        )


class ServerlessPipelineStack(TerraformStack):
    """A stack with the AWS provider (region and default tags from the config), the chosen
    backend and one `ServerlessPipeline`."""

    def __init__(self, scope: Construct, id: str, config: PipelineConfig) -> None:
        super().__init__(scope, id)
        config.validate()
        aws.provider.AwsProvider(
            self,
            "aws",
            region=config.region,
            default_tags=[aws.provider.AwsProviderDefaultTags(tags=dict(config.tags))]
            if config.tags
            else None,
        )
        backend = config.backend
        if isinstance(backend, S3Backend):
            TfS3Backend(
                self,
                bucket=backend.bucket,
                key=backend.key,
                region=backend.region,
                encrypt=True,
                kms_key_id=backend.kms_key_id,
            )
            # S3-native state locking; cdktf 0.21's binding predates it, and cdktn 0.24's refuses
            # it unless the app declares Terraform >= 1.10 as its target, so an override serves
            # both. Terraform accepts it from 1.10 and made it generally available in 1.11:
            # older versions fail at init.
            self.add_override("terraform.backend.s3.use_lockfile", True)
            self.add_override("terraform.required_version", ">= 1.11")
        elif isinstance(backend, CloudBackend):
            TfCloudBackend(
                self,
                organization=backend.organization,
                workspaces=NamedCloudWorkspace(backend.workspace),
                hostname=backend.hostname,
            )
        elif isinstance(backend, LocalBackend):
            TfLocalBackend(self, path=backend.path)
        self.pipeline = ServerlessPipeline(self, "pipeline", config)

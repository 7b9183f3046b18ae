"""DeployPipeline: CodePipeline V2 (Source, Build, Deploy) that hands each release to the
deployment state machine."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from constructs import Construct

from .. import defaults
from ..build_settings import (
    RELEASE_INPUT_FILE,
    BuildSettings,
    ConnectionSource,
    S3Source,
    build_image,
    buildspec,
    environment_type,
    validate_source_and_build,
)
from ..engine import aws
from ..handlers.runtimes import DEFAULT_ARCHITECTURE
from ..validation import NAME_PREFIX, NAME_PREFIX_ACCEPTED, Problems
from .artifact_buckets import ArtifactBuckets
from .aws_context import AwsContext
from .encryption import PipelineKey, encrypted_log_group
from .iam import ServiceRole, Statement, use_key, write_logs
from .image_repository import ImageRepository
from .state_machine import DeploymentStateMachine


@dataclass(frozen=True)
class DeployPipelineProps:
    """Props of `DeployPipeline`."""

    name_prefix: str
    """Pipeline <prefix>-pipeline and build project <prefix>-build."""
    source: S3Source | ConnectionSource = field(default_factory=S3Source)
    """Where releases come from; omitted: an S3 upload of source/app.zip."""
    build: BuildSettings = field(default_factory=BuildSettings)
    """How the release is built; omitted: the defaults of BuildSettings."""
    test_manifest: str = "release-tests.json"
    """Path of the test manifest inside the release zip (must match the handlers')."""
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    """Retention of the build log group."""
    function_runtimes: Sequence[tuple[str, str]] = (
        (defaults.LAMBDA_RUNTIME, DEFAULT_ARCHITECTURE),
    )
    """(runtime, architecture) of each application function: the build installs, tests and
    builds each runtime's language for the architecture its functions run on, on the machine
    that fits them. Omitted: one python3.13 function on x86_64."""
    image_architecture: str | None = None
    """The architecture of the image functions, whose release image the build builds and
    pushes to the pipeline's repository (DeployPipeline's `images`); omitted: no image
    functions."""


def _validate(props: DeployPipelineProps) -> None:
    problems = Problems("DeployPipeline")
    problems.pattern("name_prefix", props.name_prefix, NAME_PREFIX, NAME_PREFIX_ACCEPTED)
    validate_source_and_build(
        problems, props.source, props.build, props.function_runtimes, props.image_architecture
    )
    problems.one_of("log_retention_days", props.log_retention_days, defaults.LOG_RETENTION_CHOICES)
    problems.raise_if_any()


class DeployPipeline(Construct):
    """A V2 pipeline in QUEUED mode, so two releases never race: Source (S3 upload or a
    repository through CodeConnections), Build (CodeBuild: install, unit tests, package) and
    Deploy (the native StepFunctions action, which starts the state machine with release.json
    and waits for it)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: DeployPipelineProps,
        *,
        buckets: ArtifactBuckets,
        key: PipelineKey,
        state_machine: DeploymentStateMachine,
        context: AwsContext,
        images: ImageRepository | None = None,
    ) -> None:
        """`images`: the repository the build pushes the release image to, where some function
        is an image (props.image_architecture)."""
        super().__init__(scope, id)
        _validate(props)
        if (images is None) != (props.image_architecture is None):
            raise ValueError(
                "DeployPipeline: give images= exactly when props.image_architecture is set"
            )
        self._images = images
        self.name = f"{props.name_prefix}-pipeline"
        self.build_project_name = f"{props.name_prefix}-build"
        self.arn = context.arn("codepipeline", self.name)
        self._props, self._key, self._bucket = props, key, buckets.artifact_bucket
        # CodePipeline keeps each pipeline's artifacts under the first 20 characters of its name.
        self._pipeline_objects = f"{self._bucket.arn}/{self.name[:20]}/*"
        self._build(context)
        self._pipeline(state_machine, context)
        if isinstance(props.source, S3Source):
            self._s3_trigger(props.source, self._bucket.bucket)

    def _build(self, context: AwsContext) -> None:
        """The CodeBuild project, its encrypted log group and its role."""
        props, key, bucket, images = self._props, self._key, self._bucket, self._images
        functions, image_architecture = props.function_runtimes, props.image_architecture
        self.build_log_group = encrypted_log_group(
            self,
            "build-logs",
            name=f"/aws/codebuild/{self.build_project_name}",
            key=key,
            retention_days=props.log_retention_days,
        )
        self.build_role = ServiceRole(
            self,
            "build-role",
            name=f"{self.build_project_name}-codebuild",
            service="codebuild.amazonaws.com",
            description=f"Builds releases for {self.name}",
            statements=[
                write_logs(self.build_log_group.arn),
                Statement(
                    "ReadSourceArtifacts",
                    ["s3:GetObject", "s3:GetObjectVersion"],
                    [self._pipeline_objects],
                ),
                Statement(
                    "WriteBuildOutput",
                    ["s3:PutObject"],
                    [self._pipeline_objects, f"{bucket.arn}/releases/*"],
                ),
                # CodeBuild reads where the artifact bucket lives (CodeBuild user guide, service
                # role policy); denied, builds still work but fill CloudTrail with AccessDenied.
                Statement(
                    "LocateArtifactBucket",
                    ["s3:GetBucketAcl", "s3:GetBucketLocation"],
                    [bucket.arn],
                ),
                use_key(key.arn),
                *(images.grant_push() if images else []),
            ],
        )
        self.build_project = aws.codebuild_project.CodebuildProject(
            self,
            "build",
            name=self.build_project_name,
            description=f"Installs, unit-tests and packages each release of {self.name}",
            service_role=self.build_role.arn,
            build_timeout=props.build.timeout_minutes,
            encryption_key=key.arn,
            artifacts=aws.codebuild_project.CodebuildProjectArtifacts(type="CODEPIPELINE"),
            source=aws.codebuild_project.CodebuildProjectSource(
                type="CODEPIPELINE",
                buildspec=buildspec(props.build, functions, image_architecture),
            ),
            environment=aws.codebuild_project.CodebuildProjectEnvironment(
                compute_type=props.build.compute_type,
                image=build_image(props.build, functions, image_architecture),
                type=environment_type(props.build, functions, image_architecture),
                # docker build needs the Docker daemon, which runs only in privileged mode
                # (CodeBuild user guide, "Docker in custom image sample"); without image
                # functions, never.
                privileged_mode=images is not None,
                image_pull_credentials_type="CODEBUILD",
                environment_variable=[
                    aws.codebuild_project.CodebuildProjectEnvironmentEnvironmentVariable(
                        name=name, value=value
                    )
                    for name, value in (
                        ("ARTIFACT_BUCKET", bucket.bucket),
                        ("SOURCE_DIR", props.build.source_dir),
                        ("TEST_MANIFEST", props.test_manifest),
                        *((("IMAGE_REPOSITORY", images.url),) if images else ()),
                    )
                ],
            ),
            logs_config=aws.codebuild_project.CodebuildProjectLogsConfig(
                cloudwatch_logs=aws.codebuild_project.CodebuildProjectLogsConfigCloudwatchLogs(
                    group_name=self.build_log_group.name, status="ENABLED"
                ),
                s3_logs=aws.codebuild_project.CodebuildProjectLogsConfigS3Logs(status="DISABLED"),
            ),
            depends_on=[self.build_role.policy],
        )

    def _pipeline(self, state_machine: DeploymentStateMachine, context: AwsContext) -> None:
        """The pipeline's role (granted starts by the state machine) and its three stages."""
        props, key, bucket = self._props, self._key, self._bucket
        build_arn = context.arn("codebuild", f"project/{self.build_project_name}")
        source_statements, source_action = self._source(props.source, bucket.bucket, bucket.arn)
        self.role = ServiceRole(
            self,
            "role",
            name=f"{self.name}-codepipeline",
            service="codepipeline.amazonaws.com",
            description=f"Runs {self.name}",
            statements=[
                *source_statements,
                Statement(
                    "StoreArtifacts",
                    ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                    [self._pipeline_objects],
                ),
                Statement("ReadArtifactBucketVersioning", ["s3:GetBucketVersioning"], [bucket.arn]),
                Statement(
                    "RunBuild", ["codebuild:BatchGetBuilds", "codebuild:StartBuild"], [build_arn]
                ),
                use_key(key.arn),
            ],
        )
        state_machine.grant_start_execution(self.role)
        self.pipeline = aws.codepipeline.Codepipeline(
            self,
            "pipeline",
            name=self.name,
            role_arn=self.role.arn,
            pipeline_type="V2",
            execution_mode="QUEUED",
            artifact_store=[
                aws.codepipeline.CodepipelineArtifactStore(
                    location=bucket.bucket,
                    type="S3",
                    encryption_key=aws.codepipeline.CodepipelineArtifactStoreEncryptionKey(
                        id=key.arn, type="KMS"
                    ),
                )
            ],
            stage=[
                aws.codepipeline.CodepipelineStage(name="Source", action=[source_action]),
                aws.codepipeline.CodepipelineStage(name="Build", action=[self._build_action()]),
                aws.codepipeline.CodepipelineStage(
                    name="Deploy",
                    action=[
                        aws.codepipeline.CodepipelineStageAction(
                            name="DeploymentStateMachine",
                            category="Invoke",
                            owner="AWS",
                            provider="StepFunctions",
                            version="1",
                            input_artifacts=["Release"],
                            configuration={
                                "StateMachineArn": state_machine.arn,
                                "ExecutionNamePrefix": "release",
                                "InputType": "FilePath",
                                "Input": RELEASE_INPUT_FILE,
                            },
                        )
                    ],
                ),
            ],
            trigger=self._trigger(props.source),
            # A new pipeline starts a run at once: its build project must exist by then.
            depends_on=[self.role.policy, self.build_project],
        )

    def _build_action(self) -> aws.codepipeline.CodepipelineStageAction:
        """CodeBuild with the pipeline execution's id as the release id."""
        release_id = {
            "name": "RELEASE_ID",
            "value": "#{codepipeline.PipelineExecutionId}",
            "type": "PLAINTEXT",
        }
        return aws.codepipeline.CodepipelineStageAction(
            name="Build",
            category="Build",
            owner="AWS",
            provider="CodeBuild",
            version="1",
            input_artifacts=["Source"],
            output_artifacts=["Release"],
            configuration={
                "ProjectName": self.build_project_name,
                "EnvironmentVariables": json.dumps([release_id]),
            },
        )

    def _source(
        self, source: S3Source | ConnectionSource, bucket_name: str, bucket_arn: str
    ) -> tuple[list[Statement], aws.codepipeline.CodepipelineStageAction]:
        if isinstance(source, ConnectionSource):
            return (
                [
                    Statement(
                        "UseConnection",
                        ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                        [source.connection_arn],
                    )
                ],
                aws.codepipeline.CodepipelineStageAction(
                    name="Source",
                    category="Source",
                    owner="AWS",
                    provider="CodeStarSourceConnection",
                    version="1",
                    output_artifacts=["Source"],
                    configuration={
                        "ConnectionArn": source.connection_arn,
                        "FullRepositoryId": source.repository,
                        "BranchName": source.branch,
                        "OutputArtifactFormat": "CODE_ZIP",
                        "DetectChanges": "true",
                    },
                ),
            )
        # The role permissions of CodePipeline's "Amazon S3 source action reference", each
        # scoped to the one bucket or the one source object.
        return (
            [
                Statement(
                    "ReadSource",
                    [
                        "s3:GetObject",
                        "s3:GetObjectTagging",
                        "s3:GetObjectVersion",
                        "s3:GetObjectVersionTagging",
                    ],
                    [f"{bucket_arn}/{source.object_key}"],
                ),
                Statement(
                    "ReadSourceBucket",
                    ["s3:GetBucketAcl", "s3:GetBucketLocation"],
                    [bucket_arn],
                ),
            ],
            aws.codepipeline.CodepipelineStageAction(
                name="Source",
                category="Source",
                owner="AWS",
                provider="S3",
                version="1",
                output_artifacts=["Source"],
                configuration={
                    "S3Bucket": bucket_name,
                    "S3ObjectKey": source.object_key,
                    "PollForSourceChanges": "false",
                },
            ),
        )

    @staticmethod
    def _trigger(
        source: S3Source | ConnectionSource,
    ) -> list[aws.codepipeline.CodepipelineTrigger] | None:
        """A V2 trigger: pushes to the branch, filtered by file paths, start a release."""
        if not isinstance(source, ConnectionSource):
            return None
        paths = None
        if source.file_paths or source.excluded_file_paths:
            paths = aws.codepipeline.CodepipelineTriggerGitConfigurationPushFilePaths(
                includes=list(source.file_paths) or None,
                excludes=list(source.excluded_file_paths) or None,
            )
        return [
            aws.codepipeline.CodepipelineTrigger(
                provider_type="CodeStarSourceConnection",
                git_configuration=aws.codepipeline.CodepipelineTriggerGitConfiguration(
                    source_action_name="Source",
                    push=[
                        aws.codepipeline.CodepipelineTriggerGitConfigurationPush(
                            branches=aws.codepipeline.CodepipelineTriggerGitConfigurationPushBranches(
                                includes=[source.branch]
                            ),
                            file_paths=paths,
                        )
                    ],
                ),
            )
        ]

    def _s3_trigger(self, source: S3Source, bucket_name: str) -> None:
        """An EventBridge rule that starts the pipeline when the source object changes."""
        starter = ServiceRole(
            self,
            "trigger-role",
            name=f"{self.name}-trigger",
            service="events.amazonaws.com",
            description=f"Starts {self.name} on a new source upload",
            statements=[
                Statement("StartPipeline", ["codepipeline:StartPipelineExecution"], [self.arn])
            ],
        )
        pattern = {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [source.object_key]}},
        }
        rule = aws.cloudwatch_event_rule.CloudwatchEventRule(
            self,
            "trigger",
            name=f"{self.name}-source",
            description=f"Starts {self.name} when s3://.../{source.object_key} is uploaded",
            event_pattern=json.dumps(pattern, sort_keys=True),
        )
        aws.cloudwatch_event_target.CloudwatchEventTarget(
            self,
            "trigger-target",
            rule=rule.name,
            arn=self.pipeline.arn,
            role_arn=starter.arn,
            depends_on=[starter.policy],
        )

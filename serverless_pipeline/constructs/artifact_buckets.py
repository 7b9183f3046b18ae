"""ArtifactBuckets: where builds land and where each environment keeps its releases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from constructs import Construct

from .. import defaults
from ..application_settings import (
    ENVIRONMENT_NAME,
    ENVIRONMENT_NAME_ACCEPTED,
    RESERVED_ENVIRONMENT_NAMES,
)
from ..engine import aws
from ..naming import ENVIRONMENTS
from ..validation import (
    BUCKET_NAME,
    BUCKET_NAME_ACCEPTED,
    NAME_PREFIX,
    NAME_PREFIX_ACCEPTED,
    Problems,
)
from .aws_context import AwsContext
from .encryption import PipelineKey
from .iam import (
    Condition,
    Statement,
    deny_insecure_transport,
    from_account_service,
    resource_statement,
)
from .placement import EnvironmentPlacement


@dataclass(frozen=True)
class ArtifactBucketsProps:
    """Props of `ArtifactBuckets`."""

    name_prefix: str
    """Prefix of the generated bucket names (<prefix>-artifacts-..., <prefix>-staging-...)."""
    artifact_bucket_name: str | None = None
    """Exact name of the artifact bucket; omitted: a unique name from the prefix."""
    staging_bucket_name: str | None = None
    """Exact name of the staging release bucket; omitted: a unique name from the prefix."""
    production_bucket_name: str | None = None
    """Exact name of the production release bucket; omitted: a unique name from the prefix."""
    environments: Sequence[str] = ENVIRONMENTS
    """The environments that get a release bucket, in order; omitted: staging and production.
    Give the application's environments (`ServerlessApplication.environment_names`)."""
    bucket_names: Mapping[str, str] = field(default_factory=dict)
    """Exact names of other environments' release buckets (environment -> name); omitted: a
    unique name from the prefix."""
    noncurrent_version_expiration_days: int = defaults.NONCURRENT_VERSION_EXPIRATION_DAYS
    """Days an overwritten object version is kept (rollback history); default 90."""
    access_log_expiration_days: int = defaults.ACCESS_LOG_EXPIRATION_DAYS
    """Days server access logs are kept; default 365."""
    force_destroy: bool = False
    """Let `terraform destroy` delete non-empty buckets. Off: releases are history."""


class ArtifactBuckets(Construct):
    """The artifact bucket (build output), one release bucket per environment (the live release
    and its history, where rollback finds the last known good one) and their access-log bucket.

    Every bucket is versioned, blocks public access, disables ACLs, accepts only TLS 1.2+, and
    expires old versions and abandoned uploads. Data buckets use SSE-KMS with the pipeline key;
    the access-log bucket uses SSE-S3 because S3 server access logging cannot write to SSE-KMS.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: ArtifactBucketsProps,
        *,
        key: PipelineKey,
        context: AwsContext,
        placements: Mapping[str, EnvironmentPlacement] | None = None,
    ) -> None:
        """`placements`: the environments that live in their own account or region; each gets
        its bucket there, encrypted with its own key, logging to an access-log bucket there
        (S3 logs only to a bucket of the same account and region)."""
        super().__init__(scope, id)
        problems = Problems("ArtifactBuckets")
        problems.pattern("name_prefix", props.name_prefix, NAME_PREFIX, NAME_PREFIX_ACCEPTED)
        names = {
            "artifact_bucket_name": props.artifact_bucket_name,
            "staging_bucket_name": props.staging_bucket_name,
            "production_bucket_name": props.production_bucket_name,
            **{f"bucket_names[{env!r}]": name for env, name in props.bucket_names.items()},
        }
        environments = list(props.environments)
        if not environments or len(set(environments)) != len(environments):
            problems.add(f"environments is {environments!r}; expected distinct names")
        for environment in environments:
            problems.pattern(
                "environments item", environment, ENVIRONMENT_NAME, ENVIRONMENT_NAME_ACCEPTED
            )
            if environment in RESERVED_ENVIRONMENT_NAMES:
                problems.add(f"environments item {environment!r} is the name of a pipeline bucket")
        for prop, environment in (
            ("staging_bucket_name", "staging"),
            ("production_bucket_name", "production"),
        ):
            if getattr(props, prop) is not None and environment not in environments:
                problems.add(
                    f"{prop} is set but the environments ({', '.join(environments)}) have no "
                    f"{environment}; name the buckets of other environments in bucket_names"
                )
        for environment in props.bucket_names:
            if environment not in environments or environment in ENVIRONMENTS:
                problems.add(
                    f"bucket_names names {environment!r}; expected one of the other "
                    f"environments ({', '.join(e for e in environments if e not in ENVIRONMENTS)})"
                    + "; staging and production take staging_bucket_name and production_bucket_name"
                )
        for prop, value in names.items():
            problems.pattern(prop, value, BUCKET_NAME, BUCKET_NAME_ACCEPTED)
        chosen = [v for v in names.values() if v is not None]
        if len(set(chosen)) != len(chosen):
            problems.add(f"bucket names must differ; got {', '.join(sorted(chosen))}")
        problems.within(
            "noncurrent_version_expiration_days", props.noncurrent_version_expiration_days, 1, 3650
        )
        problems.within("access_log_expiration_days", props.access_log_expiration_days, 1, 3650)
        problems.raise_if_any()

        self._props = props
        self._context = context
        self.access_log_bucket = self._bucket("access-logs", None, key=None, log_bucket=None)
        self.artifact_bucket = self._bucket(
            "artifacts", props.artifact_bucket_name, key=key, log_bucket=self.access_log_bucket
        )
        chosen_names = {
            "staging": props.staging_bucket_name,
            "production": props.production_bucket_name,
            **props.bucket_names,
        }
        self.placements = dict(placements or {})
        self.environment_buckets: dict[str, aws.s3_bucket.S3Bucket] = {}
        """Environment -> its release bucket, in the environments' order."""
        for environment in environments:
            placed = self.placements.get(environment)
            if placed is None:
                self.environment_buckets[environment] = self._bucket(
                    environment,
                    chosen_names.get(environment),
                    key=key,
                    log_bucket=self.access_log_bucket,
                )
                continue
            with placed.creating_in(self):
                logs = self._bucket(
                    f"{environment}-access-logs",
                    None,
                    key=None,
                    log_bucket=None,
                    context=placed.context,
                    name_role="access-logs",
                )
                self.environment_buckets[environment] = self._bucket(
                    environment,
                    chosen_names.get(environment),
                    key=placed.key,
                    log_bucket=logs,
                    context=placed.context,
                )

    @property
    def staging_bucket(self) -> aws.s3_bucket.S3Bucket:
        return self.bucket_for("staging")

    @property
    def production_bucket(self) -> aws.s3_bucket.S3Bucket:
        return self.bucket_for("production")

    def bucket_for(self, environment: str) -> aws.s3_bucket.S3Bucket:
        """The release bucket of `environment`."""
        if environment not in self.environment_buckets:
            raise ValueError(
                f"environment is {environment!r}; these buckets serve "
                f"{', '.join(self.environment_buckets)} (ArtifactBucketsProps.environments)"
            )
        return self.environment_buckets[environment]

    def grant_read_releases(self) -> Statement:
        """Read release artifacts (releases/*) from the artifact bucket."""
        return Statement(
            "ReadReleaseArtifacts",
            ["s3:GetObject", "s3:GetObjectVersion"],
            [f"{self.artifact_bucket.arn}/releases/*"],
        )

    def grant_environment_records(self, environments: Sequence[str]) -> Statement:
        """Read and write releases and deployment records in these environments' buckets."""
        return Statement(
            "ManageEnvironmentReleases",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [
                f"{self.bucket_for(environment).arn}/{prefix}/*"
                for environment in environments
                for prefix in ("releases", "executions")
            ],
        )

    def grant_claim_record(self) -> Statement:
        """Read and write the pipeline's claim where it is kept in the artifact bucket (when
        the first environment lives in another account or region)."""
        return Statement(
            "ManagePipelineClaim",
            ["s3:GetObject", "s3:PutObject"],
            [f"{self.artifact_bucket.arn}/executions/claim.json"],
        )

    def grant_approval_records(self, environment: str | None) -> list[Statement]:
        """Read and write pending approvals, kept in the bucket of `environment` (the last one
        a release goes through: the handlers' choice), or in the artifact bucket (None) when
        it lives in another account or region."""
        bucket = self.artifact_bucket if environment is None else self.bucket_for(environment)
        return [
            Statement(
                "ManageApprovals", ["s3:GetObject", "s3:PutObject"], [f"{bucket.arn}/approvals/*"]
            ),
            Statement("ListApprovalsBucket", ["s3:ListBucket"], [bucket.arn]),
        ]

    def grant_list_environment_records(
        self, environments: Sequence[str], *, artifacts: bool = False
    ) -> Statement:
        """ListBucket on these environments' buckets (and the artifact bucket, where it keeps
        the claim), so a missing record reads as 404, not 403."""
        buckets = [self.bucket_for(environment) for environment in environments]
        if artifacts:
            buckets.append(self.artifact_bucket)
        return Statement("ListEnvironmentBuckets", ["s3:ListBucket"], [b.arn for b in buckets])

    def _bucket(
        self,
        role: str,
        name: str | None,
        *,
        key: PipelineKey | None,
        log_bucket: aws.s3_bucket.S3Bucket | None,
        context: AwsContext | None = None,
        name_role: str | None = None,
    ) -> aws.s3_bucket.S3Bucket:
        """One bucket with every default; `role` is its construct id, `name_role` (default:
        `role`) its generated name's middle, `context` the account it is in."""
        props = self._props
        encryption = aws.s3_bucket_server_side_encryption_configuration
        lifecycle = aws.s3_bucket_lifecycle_configuration
        versioning = aws.s3_bucket_versioning
        bucket = aws.s3_bucket.S3Bucket(
            self,
            role,
            bucket=name,
            bucket_prefix=None if name else f"{props.name_prefix}-{name_role or role}-",
            force_destroy=props.force_destroy,
        )
        versioning.S3BucketVersioningA(
            self,
            f"{role}-versioning",
            bucket=bucket.id,
            versioning_configuration=versioning.S3BucketVersioningVersioningConfiguration(
                status="Enabled"
            ),
        )
        encryption.S3BucketServerSideEncryptionConfigurationA(
            self,
            f"{role}-encryption",
            bucket=bucket.id,
            rule=[
                encryption.S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=(
                        encryption.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="aws:kms" if key else "AES256",
                            kms_master_key_id=key.arn if key else None,
                        )
                    ),
                    bucket_key_enabled=key is not None,
                )
            ],
        )
        aws.s3_bucket_public_access_block.S3BucketPublicAccessBlock(
            self,
            f"{role}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        aws.s3_bucket_ownership_controls.S3BucketOwnershipControls(
            self,
            f"{role}-ownership",
            bucket=bucket.id,
            rule=aws.s3_bucket_ownership_controls.S3BucketOwnershipControlsRule(
                object_ownership="BucketOwnerEnforced"
            ),
        )
        aws.s3_bucket_policy.S3BucketPolicy(
            self,
            f"{role}-policy",
            bucket=bucket.id,
            policy=self._policy(role, bucket, context or self._context, log_bucket is None),
        )
        # Object events go to EventBridge: an S3 source upload starts the pipeline without
        # polling, and teams can react to releases landing in an environment bucket.
        aws.s3_bucket_notification.S3BucketNotification(
            self, f"{role}-events", bucket=bucket.id, eventbridge=True
        )
        rules = [
            lifecycle.S3BucketLifecycleConfigurationRule(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                noncurrent_version_expiration=[
                    lifecycle.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=props.noncurrent_version_expiration_days
                    )
                ],
                abort_incomplete_multipart_upload=[
                    lifecycle.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                        days_after_initiation=defaults.ABORT_INCOMPLETE_UPLOAD_DAYS
                    )
                ],
            )
        ]
        if log_bucket is None:  # an access-log bucket
            rules.append(
                lifecycle.S3BucketLifecycleConfigurationRule(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                    expiration=[
                        lifecycle.S3BucketLifecycleConfigurationRuleExpiration(
                            days=props.access_log_expiration_days
                        )
                    ],
                )
            )
        lifecycle.S3BucketLifecycleConfiguration(
            self, f"{role}-lifecycle", bucket=bucket.id, rule=rules
        )
        if log_bucket is not None:
            aws.s3_bucket_logging.S3BucketLoggingA(
                self,
                f"{role}-logging",
                bucket=bucket.id,
                target_bucket=log_bucket.id,
                target_prefix=f"{role}/",
            )
        return bucket

    def _policy(
        self, role: str, bucket: aws.s3_bucket.S3Bucket, context: AwsContext, logs: bool
    ) -> str:
        objects = [bucket.arn, f"{bucket.arn}/*"]
        statements = [
            deny_insecure_transport(["s3:*"], objects),
            resource_statement(
                Statement(
                    "DenyTlsBelow12",
                    ["s3:*"],
                    objects,
                    [Condition("NumericLessThan", "s3:TlsVersion", ["1.2"])],
                ),
                principal_type="*",
                principals=["*"],
                effect="Deny",
            ),
        ]
        if logs:
            statements.append(
                from_account_service(
                    "S3ServerAccessLogsFromThisAccount",
                    ["s3:PutObject"],
                    [f"{bucket.arn}/*"],
                    "logging.s3.amazonaws.com",
                    context.account_id,
                )
            )
        return aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument(
            self, f"{role}-policy-document", statement=statements
        ).json

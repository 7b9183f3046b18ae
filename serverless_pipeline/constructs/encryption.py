"""The pipeline's customer-managed KMS key and the log groups it encrypts."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from .. import defaults
from ..engine import aws
from ..validation import NAME_PREFIX, NAME_PREFIX_ACCEPTED, Problems
from .aws_context import AwsContext
from .iam import Condition, Statement, from_account_service, resource_statement

# The encryption context of the data keys of vended log delivery to a KMS-encrypted log group:
# the Step Functions developer guide's "Data at rest encryption" for CloudWatch Logs.
LOG_DELIVERY_CONTEXT = "kms:EncryptionContext:SourceArn"


@dataclass(frozen=True)
class PipelineKeyProps:
    """Props of `PipelineKey`."""

    name_prefix: str
    """Prefix of the key alias (alias/<prefix>-pipeline)."""
    deletion_window_days: int = defaults.KMS_DELETION_WINDOW_DAYS
    """Days a scheduled deletion can still be cancelled; 7-30, default 30."""
    environment: str | None = None
    """The environment whose data the key encrypts in that environment's own account and region
    (its functions' logs and variables, its bucket): alias/<prefix>-<environment>, and only
    CloudWatch Logs beside the account's IAM policies. Omitted: the pipeline's key."""
    images: bool = False
    """The key encrypts the repository of the release images (ImageRepository), so ECR may use
    it; omitted: no image functions."""


class PipelineKey(Construct):
    """A customer-managed key with rotation, usable by the account's IAM policies and, for log
    groups of this account and region only, by CloudWatch Logs."""

    def __init__(
        self, scope: Construct, id: str, props: PipelineKeyProps, context: AwsContext
    ) -> None:
        super().__init__(scope, id)
        problems = Problems("PipelineKey")
        problems.pattern("name_prefix", props.name_prefix, NAME_PREFIX, NAME_PREFIX_ACCEPTED)
        problems.within("deletion_window_days", props.deletion_window_days, 7, 30, "days")
        problems.raise_if_any()
        logs_arn = context.arn("logs", "log-group:*")
        log_delivery_source = context.arn("logs", "*")
        account = context.account_id
        pipeline_only = [
            # Vended logs (the state machine's execution log): the state machine's role
            # makes the data key with this context, and log delivery decrypts with it.
            resource_statement(
                Statement(
                    "LogDeliveryDecryptsThisAccountsVendedLogs",
                    ["kms:Decrypt"],
                    ["*"],
                    [Condition("StringEquals", LOG_DELIVERY_CONTEXT, [log_delivery_source])],
                ),
                principal_type="Service",
                principals=["delivery.logs.amazonaws.com"],
            ),
            from_account_service(
                "CloudWatchAlarmsNotifyTheEncryptedTopic",
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                ["*"],
                "cloudwatch.amazonaws.com",
                account,
            ),
        ]
        policy = aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument(
            self,
            "policy",
            statement=[
                resource_statement(
                    Statement("AccountAdministersKeyThroughIam", ["kms:*"], ["*"]),
                    principal_type="AWS",
                    principals=[f"arn:{context.partition}:iam::{account}:root"],
                ),
                resource_statement(
                    Statement(
                        "CloudWatchLogsEncryptsThisAccountsLogGroups",
                        [
                            "kms:Decrypt",
                            "kms:DescribeKey",
                            "kms:Encrypt",
                            "kms:GenerateDataKey*",
                            "kms:ReEncrypt*",
                        ],
                        ["*"],
                        [Condition("ArnLike", "kms:EncryptionContext:aws:logs:arn", [logs_arn])],
                    ),
                    principal_type="Service",
                    principals=[f"logs.{context.region}.amazonaws.com"],
                ),
                *([] if props.environment else pipeline_only),
                *([_ecr_statement(account, context)] if props.images else []),
            ],
        )
        purpose = (
            f"the {props.environment} environment of the {props.name_prefix} deployment pipeline"
            if props.environment
            else f"the {props.name_prefix} deployment pipeline"
        )
        self.key = aws.kms_key.KmsKey(
            self,
            "key",
            description=f"Encrypts {purpose}'s data and logs",
            enable_key_rotation=True,
            deletion_window_in_days=props.deletion_window_days,
            policy=policy.json,
        )
        self.alias = aws.kms_alias.KmsAlias(
            self,
            "alias",
            name=f"alias/{props.name_prefix}-{props.environment or 'pipeline'}",
            target_key_id=self.key.key_id,
        )

    @property
    def arn(self) -> str:
        return self.key.arn


def _ecr_statement(
    account: str, context: AwsContext
) -> aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement:
    """ECR encrypts a repository's images with data keys under a grant it creates on the key when
    the repository is created, and decrypts through that grant whoever pulls (Lambda of any
    account included, which needs no key permission of its own): "Amazon ECR sends two
    CreateGrant requests to AWS KMS" (ECR user guide, "Encryption at rest"). The principals of
    this account that create the repository may have ECR create that grant, through ECR only."""
    return resource_statement(
        Statement(
            "EcrEncryptsThisAccountsImageRepository",
            ["kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"],
            ["*"],
            [
                Condition(
                    "StringEquals", "kms:ViaService", [f"ecr.{context.region}.amazonaws.com"]
                ),
                Condition("StringEquals", "kms:CallerAccount", [account]),
                Condition("Bool", "kms:GrantIsForAWSResource", ["true"]),
            ],
        ),
        principal_type="AWS",
        principals=[f"arn:{context.partition}:iam::{account}:root"],
    )


def encrypted_log_group(
    scope: Construct, id: str, *, name: str, key: PipelineKey, retention_days: int
) -> aws.cloudwatch_log_group.CloudwatchLogGroup:
    """A log group encrypted with the pipeline key, with a finite retention."""
    return aws.cloudwatch_log_group.CloudwatchLogGroup(
        scope, id, name=name, retention_in_days=retention_days, kms_key_id=key.arn
    )

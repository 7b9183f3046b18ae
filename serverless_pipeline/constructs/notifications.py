"""Notifications: the SNS topic that hears every release outcome, and its subscribers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from constructs import Construct

from .. import naming
from ..engine import aws
from ..subscribers import Subscriber, validate_subscribers
from ..validation import NAME_PREFIX, NAME_PREFIX_ACCEPTED, Problems
from .aws_context import AwsContext
from .encryption import PipelineKey
from .iam import (
    Condition,
    Statement,
    deny_insecure_transport,
    from_account_service,
    resource_statement,
)


@dataclass(frozen=True)
class NotificationsProps:
    """Props of `Notifications`."""

    name_prefix: str
    """The topic is named <prefix>-releases."""
    subscribers: Sequence[Subscriber] = field(default_factory=tuple)
    """Subscriptions to create; omitted: none (subscribe later, outside Terraform)."""


class Notifications(Construct):
    """A KMS-encrypted topic that accepts only TLS publishers: promoted, rolled back (with the
    failed state and cause) and waiting-for-approval messages, and alarm notifications."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: NotificationsProps,
        *,
        key: PipelineKey,
        context: AwsContext,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems("Notifications")
        problems.pattern("name_prefix", props.name_prefix, NAME_PREFIX, NAME_PREFIX_ACCEPTED)
        validate_subscribers(problems, props.subscribers)
        problems.raise_if_any()
        self._key = key
        self._context = context
        self.name = naming.notification_topic(props.name_prefix)
        self.topic = aws.sns_topic.SnsTopic(
            self, "topic", name=self.name, kms_master_key_id=key.arn
        )
        aws.sns_topic_policy.SnsTopicPolicy(
            self, "policy", arn=self.topic.arn, policy=self._policy()
        )
        self.subscriptions = [
            aws.sns_topic_subscription.SnsTopicSubscription(
                self,
                f"subscriber-{index}",
                topic_arn=self.topic.arn,
                protocol=subscriber.protocol,
                endpoint=subscriber.endpoint,
            )
            for index, subscriber in enumerate(props.subscribers)
        ]
        # SNS can deliver to a function only with the function's permission (SNS developer
        # guide, "Fanout to Lambda functions"). An SQS queue's policy belongs to the queue's
        # owner: docs/guides/first-deploy.md says what it must allow.
        self.invoke_permissions = [
            aws.lambda_permission.LambdaPermission(
                self,
                f"subscriber-{index}-invoke",
                action="lambda:InvokeFunction",
                function_name=subscriber.endpoint,
                principal="sns.amazonaws.com",
                source_arn=self.topic.arn,
            )
            for index, subscriber in enumerate(props.subscribers)
            if subscriber.protocol == "lambda"
        ]

    @property
    def arn(self) -> str:
        return self.topic.arn

    def grant_publish(self) -> list[Statement]:
        """Publish to the topic, encrypting through SNS with the pipeline key."""
        return [
            Statement("PublishReleaseNotifications", ["sns:Publish"], [self.topic.arn]),
            Statement(
                "EncryptNotifications",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                [self._key.arn],
                [
                    Condition(
                        "StringEquals",
                        "kms:ViaService",
                        [f"sns.{self._context.region}.amazonaws.com"],
                    )
                ],
            ),
        ]

    def _policy(self) -> str:
        topic = [self.topic.arn]
        account = self._context.account_id
        return aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument(
            self,
            "policy-document",
            statement=[
                resource_statement(
                    Statement(
                        "OwnerAccountManagesTopic",
                        [
                            "sns:GetTopicAttributes",
                            "sns:ListSubscriptionsByTopic",
                            "sns:Publish",
                            "sns:Subscribe",
                        ],
                        topic,
                    ),
                    principal_type="AWS",
                    principals=[f"arn:{self._context.partition}:iam::{account}:root"],
                ),
                from_account_service(
                    "CloudWatchAlarmsOfThisAccountPublish",
                    ["sns:Publish"],
                    topic,
                    "cloudwatch.amazonaws.com",
                    account,
                ),
                deny_insecure_transport(["sns:Publish"], topic),
            ],
        ).json

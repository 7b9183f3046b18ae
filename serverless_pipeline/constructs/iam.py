"""IAM roles for one AWS service each, with inline least-privilege policies.

Statements are plain values so that constructs can hand them to each other through `grant_*`
helpers; a role's policy is rendered through aws_iam_policy_document, which keeps statements as
structured data in the synthesized JSON, where tests and policy scanners can read them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct


@dataclass(frozen=True)
class Condition:
    test: str
    variable: str
    values: Sequence[str]


@dataclass(frozen=True)
class Statement:
    """One Allow statement: the actions, the resources they may touch, optional conditions."""

    sid: str
    actions: Sequence[str]
    resources: Sequence[str]
    conditions: Sequence[Condition] = field(default_factory=tuple)


def trust_policy(service: str) -> str:
    """A trust policy that only `service` can use."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        sort_keys=True,
    )


class ServiceRole(Construct):
    """An IAM role for one service principal with one inline policy of `statements`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        service: str,
        statements: Sequence[Statement],
        description: str,
    ) -> None:
        super().__init__(scope, id)
        self.role = IamRole(
            self,
            "role",
            name=name,
            description=description,
            assume_role_policy=trust_policy(service),
            max_session_duration=3600,
        )
        self.statements = list(statements)
        self.document = DataAwsIamPolicyDocument(
            self, "policy-document", statement=self._rendered()
        )
        self.policy = IamRolePolicy(
            self, "policy", name=name, role=self.role.id, policy=self.document.json
        )

    def add_statements(self, *statements: Statement) -> None:
        """Grant more after creation: how the construct that owns a resource grants access to
        it (`DeploymentStateMachine.grant_task_response`, ...). A statement names its resource
        by an ARN built from a name, so granting adds no reference cycle."""
        sids = {s.sid for s in self.statements}
        clashing = [s.sid for s in statements if s.sid in sids]
        if clashing:
            raise ValueError(f"{self.node.path} already has statement(s) {', '.join(clashing)}")
        self.statements += statements
        self.document.put_statement(self._rendered())

    def _rendered(self) -> list[DataAwsIamPolicyDocumentStatement]:
        return [
            DataAwsIamPolicyDocumentStatement(
                sid=statement.sid,
                effect="Allow",
                actions=sorted(statement.actions),
                resources=list(statement.resources),
                condition=_conditions(statement.conditions),
            )
            for statement in self.statements
        ]

    @property
    def arn(self) -> str:
        return self.role.arn


def write_logs(log_group_arn: str) -> Statement:
    """Write to one log group's streams, nothing else of CloudWatch Logs."""
    return Statement(
        "WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"]
    )


# X-Ray accepts these actions only on "*" (they have no resource type).
XRAY_WRITE = Statement(
    "WriteTraces",
    [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    ],
    ["*"],
)


def use_key(key_arn: str, *, decrypt_only: bool = False) -> Statement:
    """Use the pipeline's KMS key for data keys (S3 SSE-KMS, encrypted logs and artifacts)."""
    actions = ["kms:Decrypt"]
    if not decrypt_only:
        actions += ["kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    return Statement("UsePipelineKey", actions, [key_arn])


def _conditions(
    conditions: Sequence[Condition],
) -> list[DataAwsIamPolicyDocumentStatementCondition] | None:
    return [
        DataAwsIamPolicyDocumentStatementCondition(
            test=c.test, variable=c.variable, values=list(c.values)
        )
        for c in conditions
    ] or None


def resource_statement(
    statement: Statement, *, principal_type: str, principals: Sequence[str], effect: str = "Allow"
) -> DataAwsIamPolicyDocumentStatement:
    """A statement of a resource policy (bucket, key, topic): `statement` granted to (or, with
    effect Deny, refused to) the principals."""
    return DataAwsIamPolicyDocumentStatement(
        sid=statement.sid,
        effect=effect,
        actions=list(statement.actions),
        resources=list(statement.resources),
        principals=[
            DataAwsIamPolicyDocumentStatementPrincipals(
                type=principal_type, identifiers=list(principals)
            )
        ],
        condition=_conditions(statement.conditions),
    )


def deny_insecure_transport(
    actions: Sequence[str], resources: Sequence[str]
) -> DataAwsIamPolicyDocumentStatement:
    """Refuse every request that does not use TLS."""
    return resource_statement(
        Statement(
            "DenyInsecureTransport",
            actions,
            resources,
            [Condition("Bool", "aws:SecureTransport", ["false"])],
        ),
        principal_type="*",
        principals=["*"],
        effect="Deny",
    )


def from_account_service(
    sid: str, actions: Sequence[str], resources: Sequence[str], service: str, account_id: str
) -> DataAwsIamPolicyDocumentStatement:
    """Allow an AWS service to act, but only on behalf of this account."""
    return resource_statement(
        Statement(
            sid, actions, resources, [Condition("StringEquals", "aws:SourceAccount", [account_id])]
        ),
        principal_type="Service",
        principals=[service],
    )

"""IAM roles for one AWS service each, with least-privilege policies.

Statements are plain values so that constructs can hand them to each other through `grant_*`
helpers; a role's policy is rendered through aws_iam_policy_document, which keeps statements as
structured data in the synthesized JSON, where tests and policy scanners can read them.

A role's statements go into one inline policy while they fit IAM's 10,240 characters for all
inline policies of a role. Statements that name every function of a large application (20
functions in 10 environments are 400 ARNs) do not: the largest of them move, cut by resources
into pieces of at most 6,144 characters, into customer managed policies attached to the role.
The split is decided from the statements alone, so the same configuration always gives the same
policies, and a small one keeps its single inline policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from constructs import Construct

from ..engine import aws
from ..layout import deployment_role_trust

# IAM quotas: all inline policies of a role together, and one managed policy, in characters
# without whitespace; a role takes 10 managed policies unless the account's quota is raised.
INLINE_POLICY_CHARACTERS = 10_240
MANAGED_POLICY_CHARACTERS = 6_144
MANAGED_POLICIES_PER_ROLE = 10
# Room for what the rendered document adds around the statements (Version, Statement, Effect).
_DOCUMENT_CHARACTERS = 200
# A token (${data.aws_partition...}, ${data.aws_region...}, an account id) resolves to at most
# this many characters: us-gov-west-1 and ap-southeast-2 are the longest region names.
_TOKEN = re.compile(r"\$\{[^}]*\}")
_TOKEN_CHARACTERS = 14


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


def policy_characters(statements: Sequence[Statement]) -> int:
    """What IAM counts of a policy of these statements: its characters without whitespace,
    with every token at its longest value."""
    rendered = json.dumps(
        [
            {
                "Sid": s.sid,
                "Effect": "Allow",
                "Action": sorted(s.actions),
                "Resource": list(s.resources),
                "Condition": [(c.test, c.variable, list(c.values)) for c in s.conditions],
            }
            for s in statements
        ],
        separators=(",", ":"),
    )
    return len(_TOKEN.sub("x" * _TOKEN_CHARACTERS, rendered)) + _DOCUMENT_CHARACTERS


def split_policy(
    statements: Sequence[Statement],
) -> tuple[list[Statement], list[list[Statement]]]:
    """(inline statements, managed policies' statements): the largest statements move out
    until the inline policy fits; each is cut by resources into pieces that fit a managed
    policy, and the pieces are packed into as few policies as they fill (first fit, largest
    first)."""
    inline = list(statements)
    moved: list[Statement] = []
    while policy_characters(inline) > INLINE_POLICY_CHARACTERS and inline:
        largest = max(inline, key=lambda s: policy_characters([s]))
        inline.remove(largest)
        moved.append(largest)
    pieces: list[Statement] = []
    for statement in moved:
        part: list[str] = []
        for resource in statement.resources:
            grown = replace(statement, resources=[*part, resource])
            if part and policy_characters([grown]) > MANAGED_POLICY_CHARACTERS:
                pieces.append(replace(statement, resources=part))
                part = []
            part.append(resource)
        pieces.append(replace(statement, resources=part))
    policies: list[list[Statement]] = []
    for piece in sorted(pieces, key=lambda p: -policy_characters([p])):
        home = next(
            (p for p in policies if policy_characters([*p, piece]) <= MANAGED_POLICY_CHARACTERS),
            None,
        )
        if home is None:
            policies.append([piece])
        else:
            home.append(piece)
    # Sids are unique within a policy: number the pieces of a statement.
    for policy in policies:
        policy[:] = [replace(p, sid=f"{p.sid}Part{i + 1}") for i, p in enumerate(policy)]
    return inline, policies


class ServiceRole(Construct):
    """An IAM role for one service principal (or, with `trusted_roles`, for those roles) with
    an inline policy of `statements` (and managed policies for what does not fit in it: see
    the module's docstring)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        service: str | None,
        statements: Sequence[Statement],
        description: str,
        trusted_roles: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        self.role = aws.iam_role.IamRole(
            self,
            "role",
            name=name,
            description=description,
            assume_role_policy=trust_policy(service)
            if service
            else json.dumps(deployment_role_trust(list(trusted_roles)), sort_keys=True),
            max_session_duration=3600,
        )
        self._name = name
        inline, managed = split_policy(statements)
        if len(managed) > MANAGED_POLICIES_PER_ROLE:
            raise ValueError(
                f"{name} needs {len(managed)} managed policies besides its inline policy, more "
                f"than the {MANAGED_POLICIES_PER_ROLE} IAM attaches to a role; deploy fewer "
                "functions or environments, or use shorter names"
            )
        self.statements = inline
        self.document = aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument(
            self, "policy-document", statement=_rendered(self.statements)
        )
        self.policy = aws.iam_role_policy.IamRolePolicy(
            self, "policy", name=name, role=self.role.id, policy=self.document.json
        )
        self.managed_policies: list[Any] = []
        """The customer managed policies (IamPolicy) holding the statements too large for the
        inline one."""
        if managed:
            self._attach(name, managed)

    def _attach(self, name: str, managed: list[list[Statement]]) -> None:
        # Only the largest applications reach these provider modules, and a synth loads only
        # the ones it reaches (provider_imports).
        for number, part in enumerate(managed, start=1):
            document = aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument(
                self, f"managed-{number}-document", statement=_rendered(part)
            )
            policy = aws.iam_policy.IamPolicy(
                self,
                f"managed-{number}",
                name=f"{name}-{number}",
                description=f"Part {number} of the permissions of {name}",
                policy=document.json,
            )
            aws.iam_role_policy_attachment.IamRolePolicyAttachment(
                self, f"managed-{number}-attachment", role=self.role.name, policy_arn=policy.arn
            )
            self.managed_policies.append(policy)

    def add_statements(self, *statements: Statement) -> None:
        """Grant more after creation: how the construct that owns a resource grants access to
        it (`DeploymentStateMachine.grant_task_response`, ...). A statement names its resource
        by an ARN built from a name, so granting adds no reference cycle."""
        sids = {s.sid for s in self.statements}
        clashing = [s.sid for s in statements if s.sid in sids]
        if clashing:
            raise ValueError(f"{self.node.path} already has statement(s) {', '.join(clashing)}")
        if policy_characters([*self.statements, *statements]) > INLINE_POLICY_CHARACTERS:
            raise ValueError(
                f"{self._name}'s inline policy would outgrow IAM's {INLINE_POLICY_CHARACTERS} "
                f"characters with {', '.join(s.sid for s in statements)}"
            )
        self.statements += statements
        self.document.put_statement(_rendered(self.statements))

    @property
    def arn(self) -> str:
        return self.role.arn


def _rendered(
    statements: Sequence[Statement],
) -> list[aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement]:
    return [
        aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement(
            sid=statement.sid,
            effect="Allow",
            actions=sorted(statement.actions),
            resources=list(statement.resources),
            condition=_conditions(statement.conditions),
        )
        for statement in statements
    ]


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
) -> list[aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatementCondition] | None:
    return [
        aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatementCondition(
            test=c.test, variable=c.variable, values=list(c.values)
        )
        for c in conditions
    ] or None


def resource_statement(
    statement: Statement, *, principal_type: str, principals: Sequence[str], effect: str = "Allow"
) -> aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement:
    """A statement of a resource policy (bucket, key, topic): `statement` granted to (or, with
    effect Deny, refused to) the principals."""
    return aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement(
        sid=statement.sid,
        effect=effect,
        actions=list(statement.actions),
        resources=list(statement.resources),
        principals=[
            aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatementPrincipals(
                type=principal_type, identifiers=list(principals)
            )
        ],
        condition=_conditions(statement.conditions),
    )


def deny_insecure_transport(
    actions: Sequence[str], resources: Sequence[str]
) -> aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement:
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
) -> aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement:
    """Allow an AWS service to act, but only on behalf of this account."""
    return resource_statement(
        Statement(
            sid, actions, resources, [Condition("StringEquals", "aws:SourceAccount", [account_id])]
        ),
        principal_type="Service",
        principals=[service],
    )

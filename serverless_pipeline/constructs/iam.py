"""IAM roles for one AWS service each, with least-privilege policies.

Statements are plain values so that constructs can hand them to each other through `grant_*`
helpers; a role's policy is rendered through aws_iam_policy_document, which keeps statements as
structured data in the synthesized JSON, where tests and policy scanners can read them.

A role's statements go into one inline policy while they fit IAM's 10,240 characters for all
inline policies of a role. Statements that name every function of a large application (20
functions in 10 environments are 400 ARNs) do not: the largest of them move, cut by resources
into pieces of at most 6,144 characters, into customer managed policies attached to the role.
The split is decided from all of a role's statements, those granted after it was built
(`ServiceRole.add_statements`) included, and decided again whenever one is granted: a grant
that arrives last never finds the inline policy full. It depends on the statements alone, so
the same configuration always gives the same policies, and a small one keeps its single inline
policy.

Sizes are counted as IAM will count them once Terraform has resolved every reference: each
`${...}` at the longest value it can take (the longest partition, region and account id, and
the longest name AWS allows for the resource an ARN names), never at the length of its token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from constructs import Construct

from ..engine import DefaultTokenResolver, StringConcat, Tokenization, aws
from ..layout import deployment_role_trust

# IAM quotas: all inline policies of a role together, and one managed policy, in characters
# without whitespace; a role takes 10 managed policies unless the account's quota is raised.
INLINE_POLICY_CHARACTERS = 10_240
MANAGED_POLICY_CHARACTERS = 6_144
MANAGED_POLICIES_PER_ROLE = 10
# Room for what the rendered document adds around the statements (Version, Statement, Effect).
_DOCUMENT_CHARACTERS = 200
# A reference in a statement: a cdktf token (${TfToken[TOKEN.7]}) before synthesis, the
# Terraform expression (${data.aws_region.x.region}) after.
_TOKEN = re.compile(r"\$\{[^}]*\}")
_REFERENCE = re.compile(r"\$\{(?:data\.)?(aws_[a-z0-9_]+)\.[^.}]+\.([a-z_]+)\}")
# The longest partition (aws-us-gov), region (us-isof-south-1, botocore's endpoints.json) and
# account id.
PARTITION_CHARACTERS = 10
REGION_CHARACTERS = 15
ACCOUNT_CHARACTERS = 12


def arn_characters(
    service: str, resource: int, *, region: bool = True, account: bool = True
) -> int:
    """The longest arn:<partition>:<service>:<region>:<account>:<resource> whose resource part
    is at most `resource` characters."""
    return (
        len(f"arn::{service}:::")
        + PARTITION_CHARACTERS
        + (REGION_CHARACTERS if region else 0)
        + (ACCOUNT_CHARACTERS if account else 0)
        + resource
    )


# (Terraform type, attribute) -> the most characters the reference resolves to: what the
# constructs put in statements. Names at the longest AWS allows: a KMS key id 36 characters
# (mrk-<32 hex> for a multi-Region key), a bucket 63, a log group 512, a function 64, a topic
# 256.
RESOLVED_CHARACTERS = {
    ("aws_partition", "partition"): PARTITION_CHARACTERS,
    ("aws_region", "region"): REGION_CHARACTERS,
    ("aws_region", "name"): REGION_CHARACTERS,
    ("aws_caller_identity", "account_id"): ACCOUNT_CHARACTERS,
    ("aws_kms_key", "arn"): arn_characters("kms", len("key/") + 36),
    ("aws_s3_bucket", "arn"): arn_characters("s3", 63, region=False, account=False),
    ("aws_cloudwatch_log_group", "arn"): arn_characters("logs", len("log-group:") + 512),
    ("aws_lambda_function", "arn"): arn_characters("lambda", len("function:") + 64),
    ("aws_sns_topic", "arn"): arn_characters("sns", 256),
}
# Any other reference: the longest ARN IAM accepts (its API's arnType).
ANY_REFERENCE_CHARACTERS = 2048
# A cdktf token -> the Terraform expression it stands for.
Resolve = Callable[[str], str]


def resolved_characters(expression: str) -> int:
    """The most characters `expression` (a Terraform expression, or the literal a token stood
    for) takes once Terraform has resolved it."""
    if "${" not in expression:
        return len(expression)
    match = _REFERENCE.fullmatch(expression)
    if match is None:
        return ANY_REFERENCE_CHARACTERS
    kind, attribute = match.groups()
    return RESOLVED_CHARACTERS.get((kind, attribute), ANY_REFERENCE_CHARACTERS)


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


def merge_by_resources(statements: Sequence[Statement]) -> list[Statement]:
    """The statements, those that name the same resources under the same conditions as one
    (the first one's sid, every action): a role that does two jobs on the same resources names
    each ARN once, which keeps a large application's policies within IAM's sizes."""
    merged: dict[Any, Statement] = {}
    for statement in statements:
        key = (
            tuple(statement.resources),
            tuple((c.test, c.variable, tuple(c.values)) for c in statement.conditions),
        )
        first = merged.get(key)
        merged[key] = (
            statement
            if first is None
            else replace(first, actions=sorted({*first.actions, *statement.actions}))
        )
    return list(merged.values())


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


def _as_written(reference: str) -> str:
    return reference


def policy_characters(statements: Sequence[Statement], resolve: Resolve = _as_written) -> int:
    """What IAM counts of a policy of these statements: its characters without whitespace,
    with every reference at the longest value it resolves to. `resolve` turns a cdktf token
    into its Terraform expression; statements read back from synthesized JSON hold the
    expressions already."""
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
    resolved = _TOKEN.sub(lambda m: "x" * resolved_characters(resolve(m.group(0))), rendered)
    return len(resolved) + _DOCUMENT_CHARACTERS


def split_policy(
    statements: Sequence[Statement], resolve: Resolve = _as_written
) -> tuple[list[Statement], list[list[Statement]]]:
    """(inline statements, managed policies' statements): the largest statements move out
    until the inline policy fits; each is cut by resources into pieces that fit a managed
    policy, and the pieces are packed into as few policies as they fill (first fit, largest
    first)."""

    def size(part: Sequence[Statement]) -> int:
        return policy_characters(part, resolve)

    inline = list(statements)
    moved: list[Statement] = []
    while size(inline) > INLINE_POLICY_CHARACTERS and inline:
        largest = max(inline, key=lambda s: size([s]))
        inline.remove(largest)
        moved.append(largest)
    pieces: list[Statement] = []
    for statement in moved:
        # Sids are unique within a policy: each piece is numbered (before it is measured, the
        # number being part of its size).
        number = 1
        part: list[str] = []
        for resource in statement.resources:
            grown = replace(
                statement, sid=f"{statement.sid}Part{number}", resources=[*part, resource]
            )
            if part and size([grown]) > MANAGED_POLICY_CHARACTERS:
                pieces.append(replace(grown, resources=part))
                number += 1
                part = []
            part.append(resource)
        pieces.append(replace(statement, sid=f"{statement.sid}Part{number}", resources=part))
    policies: list[list[Statement]] = []
    for piece in sorted(pieces, key=lambda p: -size([p])):
        home = next((p for p in policies if size([*p, piece]) <= MANAGED_POLICY_CHARACTERS), None)
        if home is None:
            policies.append([piece])
        else:
            home.append(piece)
    return inline, policies


# Token -> the Terraform expression it stands for. The jsii kernel numbers a token once for the
# life of the process, so an answer holds for every later question about it.
_EXPRESSIONS: dict[str, str] = {}


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
        self._granted = list(statements)
        inline, managed = self._split(self._granted)
        self.statements = inline
        """The statements of the inline policy."""
        self.document = aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument(
            self, "policy-document", statement=_rendered(self.statements)
        )
        self.policy = aws.iam_role_policy.IamRolePolicy(
            self, "policy", name=name, role=self.role.id, policy=self.document.json
        )
        self.managed_policies: list[Any] = []
        """The customer managed policies (IamPolicy) holding the statements too large for the
        inline one, as the split of every statement granted so far made them."""
        self._attach(managed)

    def _split(
        self, statements: Sequence[Statement]
    ) -> tuple[list[Statement], list[list[Statement]]]:
        inline, managed = split_policy(statements, self.expression)
        if len(managed) > MANAGED_POLICIES_PER_ROLE:
            raise ValueError(
                f"{self._name} needs {len(managed)} managed policies besides its inline policy, "
                f"more than the {MANAGED_POLICIES_PER_ROLE} IAM attaches to a role; deploy fewer "
                "functions or environments, or use shorter names"
            )
        return inline, managed

    def _attach(self, managed: list[list[Statement]]) -> None:
        """Managed policies for `managed`, replacing those of an earlier split: a grant can
        move other statements out, or reshuffle the pieces."""
        for number in range(1, len(self.managed_policies) + 1):
            for suffix in ("-document", "", "-attachment"):
                self.node.try_remove_child(f"managed-{number}{suffix}")
        self.managed_policies = []
        # Only the largest applications reach these provider modules, and a synth loads only
        # the ones it reaches (provider_imports).
        for number, part in enumerate(managed, start=1):
            document = aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument(
                self, f"managed-{number}-document", statement=_rendered(part)
            )
            policy = aws.iam_policy.IamPolicy(
                self,
                f"managed-{number}",
                name=f"{self._name}-{number}",
                description=f"Part {number} of the permissions of {self._name}",
                policy=document.json,
            )
            aws.iam_role_policy_attachment.IamRolePolicyAttachment(
                self, f"managed-{number}-attachment", role=self.role.name, policy_arn=policy.arn
            )
            self.managed_policies.append(policy)

    def add_statements(self, *statements: Statement) -> None:
        """Grant more after creation: how the construct that owns a resource grants access to
        it (`DeploymentStateMachine.grant_task_response`, ...). A statement names its resource
        by an ARN built from a name, so granting adds no reference cycle. The role's policies
        are split again, from every statement it holds now."""
        sids = {s.sid for s in self._granted}
        clashing = [s.sid for s in statements if s.sid in sids]
        if clashing:
            raise ValueError(f"{self.node.path} already has statement(s) {', '.join(clashing)}")
        inline, managed = self._split([*self._granted, *statements])
        self._granted += statements
        self.statements = inline
        self.document.put_statement(_rendered(self.statements))
        self._attach(managed)

    def expression(self, token: str) -> str:
        """The Terraform expression a cdktf token of its statements stands for, as the role's
        stack will write it (${data.aws_region.x.region}): what tells how long it can be."""
        if token not in _EXPRESSIONS:
            _EXPRESSIONS[token] = str(
                Tokenization.resolve(
                    token,
                    scope=self,
                    preparing=False,
                    resolver=DefaultTokenResolver(StringConcat()),
                )
            )
        return _EXPRESSIONS[token]

    @property
    def granted(self) -> list[Statement]:
        """Every statement the role holds, inline or in a managed policy, in the order they
        were granted."""
        return list(self._granted)

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

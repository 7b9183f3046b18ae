"""Every role of every application from 1 to 20 functions in 2 to 10 environments within IAM's
policy sizes: 10,240 characters for a role's inline policies, 6,144 per managed policy, 10
managed policies per role (IAM and AWS STS quotas). Sizes are counted with every reference at
the longest value it resolves to, the statements granted after a role was built included.

150 stacks would take minutes to build. One stack per number of environments, with all 20
functions, gives every role's statements; a smaller application's are the same with the other
functions' roles and ARNs left out, which the formerly failing shapes check against stacks
built for them, synthesized in full."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from serverless_pipeline import ServerlessPipelineStack
from serverless_pipeline.constructs.iam import (
    INLINE_POLICY_CHARACTERS,
    MANAGED_POLICIES_PER_ROLE,
    MANAGED_POLICY_CHARACTERS,
    Condition,
    ServiceRole,
    Statement,
    policy_characters,
    resolved_characters,
    split_policy,
)
from serverless_pipeline.engine import TerraformStack, Testing
from tests.conftest import resources, synth_stack
from tests.grid_config import shaped
from tests.security.test_least_privilege import identity_policies

FUNCTIONS = range(1, 21)
ENVIRONMENTS = range(2, 11)
# Shapes whose promote role outgrew its inline policy when ClaimPipeline's grant came last.
FORMERLY_FAILING = ((3, 7), (6, 4), (13, 2))
_FUNCTION = re.compile(r"fn(\d{2})")
_TOKEN = re.compile(r"\$\{[^}]*\}")
# A role -> every statement it holds.
Grants = dict[str, tuple[ServiceRole, list[Statement]]]


def roles(stack: ServerlessPipelineStack) -> Grants:
    return {
        role.node.path.split("/", 1)[1]: (role, role.granted)
        for role in stack.node.find_all()
        if isinstance(role, ServiceRole)
    }


def beyond(text: str, functions: int) -> bool:
    """Whether `text` names a function past the first `functions` (fn00, fn01, ...)."""
    return any(int(number) >= functions for number in _FUNCTION.findall(text))


def narrowed(grants: Grants, functions: int) -> Grants:
    """The roles and statements of the same application with only its first `functions`."""
    kept: Grants = {}
    for path, (role, statements) in grants.items():
        if beyond(path, functions):
            continue
        narrower = [
            replace(s, resources=[r for r in s.resources if not beyond(r, functions)])
            for s in statements
        ]
        kept[path] = (role, [s for s in narrower if s.resources])
    return kept


def resolved(grants: Grants) -> set[tuple[str, str]]:
    """(role, statement) with every token as its Terraform expression: the same in two stacks
    whose constructs have the same paths."""

    def text(role: ServiceRole, statement: Statement) -> str:
        written = json.dumps(
            [
                statement.sid,
                sorted(statement.actions),
                list(statement.resources),
                [[c.test, c.variable, list(c.values)] for c in statement.conditions],
            ]
        )
        return _TOKEN.sub(lambda m: role.expression(m.group(0)), written)

    return {
        (path, text(role, s)) for path, (role, statements) in grants.items() for s in statements
    }


@pytest.fixture(scope="module", params=ENVIRONMENTS, ids=lambda n: f"{n}-environments")
def twenty_functions(request: pytest.FixtureRequest) -> tuple[int, Grants]:
    environments: int = request.param
    return environments, roles(
        ServerlessPipelineStack(Testing.app(), "grid", shaped(20, environments))
    )


@pytest.mark.slow
def test_every_shape_fits_iams_policy_sizes(twenty_functions: tuple[int, Grants]) -> None:
    environments, grants = twenty_functions
    for functions in FUNCTIONS:
        for path, (role, statements) in narrowed(grants, functions).items():
            inline, managed = split_policy(statements, role.expression)
            where = f"{functions}x{environments} {path}"
            sizes = [policy_characters(part, role.expression) for part in managed]
            assert policy_characters(inline, role.expression) <= INLINE_POLICY_CHARACTERS, where
            assert all(size <= MANAGED_POLICY_CHARACTERS for size in sizes), (where, sizes)
            assert len(managed) <= MANAGED_POLICIES_PER_ROLE, where
            # Nothing is lost in the split: every action on every resource is still granted.
            assert {(a, r) for s in statements for a in s.actions for r in s.resources} == {
                (a, r)
                for s in [*inline, *(p for part in managed for p in part)]
                for a in s.actions
                for r in s.resources
            }, where


@pytest.mark.slow
@pytest.mark.parametrize(("functions", "environments"), FORMERLY_FAILING)
def test_a_formerly_failing_shape_synthesizes_as_the_grid_test_derives_it(
    functions: int, environments: int
) -> None:
    stack = ServerlessPipelineStack(Testing.app(), "grid", shaped(functions, environments))
    document = synth_stack(stack)
    built = roles(stack)
    largest = roles(ServerlessPipelineStack(Testing.app(), "grid", shaped(20, environments)))
    assert resolved(narrowed(largest, functions)) == resolved(built)
    # Claiming the pipeline is granted last, after the promote role was built, and is there.
    promote = built["pipeline/handlers/promote/role"][1]
    assert "ReadWhetherExecutionsRun" in {s.sid for s in promote}
    managed = {p["name"] for p in resources(document, "aws_iam_policy").values()}
    for name, statements in identity_policies(document).items():
        size = policy_characters([statement_of(s) for s in statements])
        limit = MANAGED_POLICY_CHARACTERS if name in managed else INLINE_POLICY_CHARACTERS
        assert size <= limit, name


def statement_of(synthesized: dict[str, Any]) -> Statement:
    conditions = [
        Condition(c["test"], c["variable"], c["values"]) for c in synthesized.get("condition", [])
    ]
    return Statement(
        synthesized["sid"], synthesized["actions"], synthesized["resources"], conditions
    )


@pytest.mark.parametrize(
    ("expression", "characters"),
    [
        ("${data.aws_partition.context_partition_1.partition}", len("aws-us-gov")),
        ("${data.aws_region.context_region_2.region}", len("us-isof-south-1")),
        ("${data.aws_caller_identity.context_identity_3.account_id}", 12),
        # arn:aws-us-gov:kms:us-isof-south-1:123456789012:key/<36>
        ("${aws_kms_key.key_4.arn}", 4 + 10 + 5 + 15 + 1 + 12 + 1 + 4 + 36),
        ("${aws_s3_bucket.bucket_5.arn}", len("arn:aws-us-gov:s3:::") + 63),
        ("${aws_codebuild_project.build_6.arn}", 2048),
        ("not a reference", len("not a reference")),
    ],
)
def test_a_reference_counts_at_the_longest_value_it_resolves_to(
    expression: str, characters: int
) -> None:
    assert resolved_characters(expression) == characters


def arns(prefix: str, count: int) -> list[str]:
    return [f"arn:aws:lambda:eu-west-1:123456789012:function:{prefix}{i:04}" for i in range(count)]


def test_a_grant_after_the_role_is_built_splits_its_policies_again() -> None:
    stack = TerraformStack(Testing.app(), "roles")
    role = ServiceRole(
        stack,
        "role",
        name="grown",
        service="lambda.amazonaws.com",
        statements=[Statement("Read", ["lambda:GetFunction"], arns("read", 100))],
        description="A role that grows",
    )
    assert role.managed_policies == []
    # Together they outgrow the inline policy: the larger one moves to a managed policy.
    role.add_statements(Statement("Invoke", ["lambda:InvokeFunction"], arns("invoke", 90)))
    assert [s.sid for s in role.statements] == ["Invoke"]
    (policy,) = role.managed_policies
    # More than 10 managed policies would hold: refused, and the role is as it was.
    with pytest.raises(ValueError, match="grown needs 12 managed policies besides"):
        role.add_statements(Statement("Everything", ["lambda:GetAlias"], arns("all", 1100)))
    assert [s.sid for s in role.granted] == ["Read", "Invoke"]
    managed = resources(json.loads(Testing.synth(stack)), "aws_iam_policy")
    assert [p["name"] for p in managed.values()] == ["grown-1"]
    assert role.managed_policies == [policy]

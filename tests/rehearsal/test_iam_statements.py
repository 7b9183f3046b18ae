"""Every statement of every handler role is needed: without it, a release fails where AWS would
fail it.

Generated from the synthesized stack of the crash drills' pipeline (every handler and the
traffic hook take part in its releases): one rehearsal per statement, with that statement
removed from the stack, of the cheapest release that makes the role use it. The rehearsal must
stop with PermissionDenied at a call of that role needing one of the statement's actions.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline.emulator.iam_enforcement import PermissionDenied
from serverless_pipeline.emulator.iam_policies import RolePolicies, compile_statement
from serverless_pipeline.handlers import records
from serverless_pipeline.handlers.settings import load
from serverless_pipeline.layout import pipeline_layout
from serverless_pipeline.rehearsal import account as emulated
from serverless_pipeline.rehearsal import runner
from serverless_pipeline.rehearsal.conditions import Conditions
from tests.rehearsal.crash_drills import drill_app, drill_config

CONFIG = drill_config()
STACK = emulated.synthesized(CONFIG)
HANDLERS = {
    f"{name}-fn": handler for handler, name in pipeline_layout(CONFIG).handlers.functions.items()
}
# The release that makes each handler use its permissions: rollback acts only when a release
# fails (in production, so that it restores both environments).
KINDS = {"rollback": ["production-deploy"]}
# Statements a healthy release does not use, and the release that does.
SCENARIOS: dict[tuple[str, str], tuple[list[str], Conditions | None, bool]] = {
    # A gate that closes tells subscribers the release waits: the stopped line.
    ("promote", "PublishReleaseNotifications"): (["ok"], Conditions(line_stopped=True), False),
    # Whether the execution holding the pipeline still runs: a claim left by one that died.
    ("promote", "ReadWhetherExecutionsRun"): (["ok"], None, True),
    # Records of an environment the release never reached: a 404 only with s3:ListBucket.
    ("rollback", "ListEnvironmentBuckets"): (["validate"], None, False),
    # What the cleanup restored after an operator stopped the execution.
    ("rollback", "PublishReleaseNotifications"): (["abort-staging"], None, False),
}

# Statements whose loss AWS does not fail a release for: Lambda itself uses them with the
# function's role, and goes on without them.
NOT_NEEDED_TO_RELEASE = {
    "WriteOwnLogs": "Lambda writes the function's logs with them; without them the logs are "
    "lost and the invocation still succeeds",
    "WriteTraces": "Lambda and the X-Ray SDK send traces with them; without them the traces are "
    "dropped and the invocation still succeeds",
}
# Statements that other statements of the same role cover whole: removing one changes nothing,
# in AWS as here (checked by test_covered_statements_are_covered).
COVERED = {
    ("approval", "EncryptNotifications"): "UsePipelineKey and WriteWithPipelineKey",
    ("promote", "EncryptNotifications"): "UsePipelineKey and WriteWithPipelineKey",
    ("rollback", "EncryptNotifications"): "UsePipelineKey and WriteWithPipelineKey",
}


def handler_statements() -> list[tuple[str, str, dict[str, Any]]]:
    """(role name, policy document id, statement) of every handler role's inline policy."""
    roles = STACK["resource"]["aws_iam_role"]
    documents = STACK["data"]["aws_iam_policy_document"]
    found = []
    for policy in STACK["resource"]["aws_iam_role_policy"].values():
        role = roles[policy["role"].split(".")[1]]["name"]
        if role in HANDLERS:
            document = policy["policy"].split(".")[2]
            found += [(role, document, s) for s in documents[document]["statement"]]
    return found


STATEMENTS = handler_statements()
DRILLS = [
    pytest.param(role, document, statement["sid"], id=f"{HANDLERS[role]}-{statement['sid']}")
    for role, document, statement in STATEMENTS
    if statement["sid"] not in NOT_NEEDED_TO_RELEASE
    and (HANDLERS[role], statement["sid"]) not in COVERED
]


def without(role: str, document: str, sid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stack with one statement removed from a role's policy, and that statement."""
    stack = copy.deepcopy(STACK)
    statements = stack["data"]["aws_iam_policy_document"][document]["statement"]
    removed = next(s for s in statements if s["sid"] == sid)
    statements.remove(removed)
    return stack, removed


def test_every_handler_takes_part() -> None:
    """The drills cover every handler role, the traffic hook's too, and every scenario is of a
    statement the stack has."""
    assert {HANDLERS[role] for role, _, _ in STATEMENTS} == set(HANDLERS.values())
    assert "traffic_hook" in HANDLERS.values()
    present = {(HANDLERS[role], statement["sid"]) for role, _, statement in STATEMENTS}
    assert set(SCENARIOS) | set(COVERED) <= present


def left_behind_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulated account laid out with the pipeline claimed by an execution that is gone."""
    create = emulated.create

    def with_claim(config: Any, source: Any = None) -> emulated.EmulatedAccount:
        account = create(config, source)
        bucket = load(account.handler_variables).claim_bucket
        held = {"execution": "release-r0", "state": "held"}
        records.save(account.s3, bucket, records.CLAIM_KEY, held, etag=None)
        return account

    monkeypatch.setattr(emulated, "create", with_claim)


@pytest.mark.slow
@pytest.mark.parametrize(("role", "document", "sid"), DRILLS)
def test_a_missing_statement_fails_the_release(
    role: str, document: str, sid: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, removed = without(role, document, sid)
    default = (KINDS.get(HANDLERS[role], ["ok"]), None, False)
    kinds, conditions, claimed = SCENARIOS.get((HANDLERS[role], sid), default)
    if claimed:
        left_behind_claim(monkeypatch)
    with pytest.raises(PermissionDenied) as raised:
        runner.rehearse(
            CONFIG,
            kinds,
            source=drill_app(tmp_path, CONFIG),
            stack=stack,
            conditions=conditions,
        )
    denial = raised.value.denials[0]
    assert denial.role.endswith(f":role/{role}"), raised.value
    assert denial.action in removed["actions"], raised.value
    assert str(raised.value).startswith("the stack's IAM policies refuse a call")


def test_covered_statements_are_covered() -> None:
    """What each covered statement allows, the rest of its role allows too, under the
    statement's own conditions."""
    for role, document, statement in STATEMENTS:
        if (HANDLERS[role], statement["sid"]) not in COVERED:
            continue
        # Buckets get their names from AWS; any name will do for this check.
        buckets = {
            f"aws_s3_bucket.{b}.bucket": b.lower() for b in STACK["resource"]["aws_s3_bucket"]
        }
        values = emulated.StackValues(STACK, emulated.ACCOUNT_ID, buckets)
        rest = [
            compile_statement(document, s)
            for s in values.policy_document(f"${{data.aws_iam_policy_document.{document}.json}}")
            if s["Sid"] != statement["sid"]
        ]
        policies = RolePolicies(role, tuple(rest))
        context = {
            c["variable"].lower(): values.resolve(c["values"][0])
            for c in statement.get("condition", [])
        }
        for action in statement["actions"]:
            for resource in statement["resources"]:
                decision = policies.decide(action, values.resolve(resource), context)
                assert decision.allowed, (role, statement["sid"], action)
                assert decision.statement is not None
                assert decision.statement.sid in COVERED[(HANDLERS[role], statement["sid"])]

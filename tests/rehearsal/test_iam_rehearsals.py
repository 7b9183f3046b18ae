"""The examples rehearse clean under their stacks' IAM policies, and a stack that lacks a grant
stops `rehearse` with exit 3 naming the role, the action and the resource."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline.cli import EXIT_BROKEN, EXIT_USAGE, main
from serverless_pipeline.example import example_config, multi_account_config
from serverless_pipeline.rehearsal import account as emulated
from serverless_pipeline.rehearsal import runner

pytestmark = pytest.mark.slow


def test_the_example_rehearses_clean() -> None:
    rehearsal = runner.rehearse(example_config(), ["ok", "production-deploy"])
    assert [r.outcome for r in rehearsal.releases] == ["promoted", "rolled_back"]
    assert rehearsal.releases[1].error == "DeploymentFailed"


def test_the_multi_account_example_rehearses_clean() -> None:
    """The handlers act in staging's and production's accounts through their deployment
    roles, whose policies there are enforced too."""
    rehearsal = runner.rehearse(multi_account_config(), ["ok"])
    assert [r.outcome for r in rehearsal.releases] == ["promoted"]
    assert rehearsal.live == {"staging": "r2", "production": "r2"}


def without_line_switch(stack: dict[str, Any]) -> dict[str, Any]:
    """The example's stack with promote no longer allowed to read the stop-the-line switch."""
    changed = copy.deepcopy(stack)
    for name, document in changed["data"]["aws_iam_policy_document"].items():
        if "handlers_promote" in name:
            document["statement"] = [
                s for s in document["statement"] if s["sid"] != "ReadLineSwitch"
            ]
    return changed


def test_a_missing_grant_exits_3_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "stacks" / "serverless-pipeline" / "cdk.tf.json"
    stack.parent.mkdir(parents=True)
    stack.write_text(json.dumps(without_line_switch(emulated.synthesized(example_config()))))
    assert main(["rehearse", "ok", "--json", "--stack", str(tmp_path)]) == EXIT_BROKEN
    error = capsys.readouterr().err
    assert "role arn:aws:iam::123456789012:role/orders-promote-fn" in error
    assert "may not ssm:GetParameter on arn:aws:ssm:eu-west-1:123456789012:parameter/" in error
    assert "AccessDeniedException (400)" in error


def test_an_unreadable_stack_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cdk.tf.json").write_text("{not json")
    assert main(["rehearse", "ok", "--stack", str(tmp_path / "cdk.tf.json")]) == EXIT_USAGE
    assert "not a readable cdk.tf.json" in capsys.readouterr().err
    assert main(["rehearse", "ok", "--stack", str(tmp_path / "nowhere")]) == EXIT_USAGE

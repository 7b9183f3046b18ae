from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline import asl
from serverless_pipeline.asl import definition_values
from serverless_pipeline.constructs.state_machine import LOG_DELIVERY_ACTIONS
from tests.conftest import definition, one, policy_statements, statement

ROOT = Path(__file__).resolve().parents[2]
ASL_VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
PUBLIC_STATES = [
    "ValidateCode",
    "RunTests",
    "DeployStaging",
    "RunTestsInStaging",
    "DeployProduction",
    "Success",
    "Rollback",
]


def filled_template(poll: int = 30, approval: int | None = None) -> dict[str, Any]:
    stages = [("staging", None), ("production", approval)]
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:demo-{}"
    values = definition_values(
        partition="aws",
        validate=arn.format("validate"),
        run_tests=arn.format("run-tests"),
        promote=arn.format("promote"),
        rollback=arn.format("rollback"),
        approval=arn.format("approval"),
        notification_topic="arn:aws:sns:eu-west-1:123456789012:demo-releases",
        poll_interval_seconds=poll,
        task_timeout_seconds=360,
        deployment_timeout_seconds=3600,
        environments=stages,
    )
    result: dict[str, Any] = asl.fill(asl.compose(stages), values)
    return result


def test_the_public_state_names_exist(single: dict[str, Any]) -> None:
    states = definition(single)["States"]
    for name in PUBLIC_STATES:
        assert name in states
    assert definition(single)["StartAt"] == "Configure"
    assert states["Configure"]["Next"] == "ClaimPipeline"
    assert states["ClaimPipeline"]["Next"] == "ValidateCode"
    assert states["Success"]["Type"] == "Succeed"
    assert states["ReleaseFailed"] == {
        "Type": "Fail",
        "Comment": states["ReleaseFailed"]["Comment"],
        # The rollback's report of the caught error: always with a cause, and under a name a
        # Fail state may carry (no States. prefix; Step Functions developer guide, "Error
        # names").
        "ErrorPath": "$.rollback.output.failure.Error",
        "CausePath": "$.rollback.output.failure.Cause",
    }


def test_every_deciding_task_routes_every_error_to_rollback(single: dict[str, Any]) -> None:
    states = definition(single)["States"]
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}
    # ... and Check<Env>Gates before each environment.
    assert len(tasks) == 15
    for name, state in tasks.items():
        assert isinstance(state["TimeoutSeconds"], int)
        for retry in state["Retry"]:
            assert retry["JitterStrategy"] == "FULL" and retry["BackoffRate"] == 2
        if name == "Rollback":
            # Retries everything; a rollback that still fails is announced, then fails.
            assert state["Retry"][0]["ErrorEquals"] == ["States.ALL"]
            assert state["Next"] == "NotifyRolledBack"
            assert state["Catch"] == [
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.rollback_error",
                    "Next": "NotifyRollbackFailed",
                }
            ]
            assert states["NotifyRollbackFailed"]["Next"] == "RollbackFailed"
            assert states["RollbackFailed"]["Error"] == "RollbackFailed"
            assert states["RollbackFailed"]["CausePath"] == "States.JsonToString($.rollback_error)"
        elif name.startswith("Notify"):
            # The outcome is decided before these run: a failed notification never changes it.
            assert state["Catch"][0]["Next"] == state["Next"]
            assert state["Resource"].endswith(":states:::sns:publish")
        else:
            assert state["TimeoutSeconds"] in (360, 86400)
            assert state["Catch"] == [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Rollback"}
            ]
            lambda_errors = [
                r for r in state["Retry"] if "Lambda.ServiceException" in r["ErrorEquals"]
            ]
            assert "Lambda.TooManyRequestsException" in lambda_errors[0]["ErrorEquals"]
            if name == "ClaimPipeline":
                # It waits for the execution before it to end and be cleaned up.
                waits = state["Retry"][0]
                assert waits["ErrorEquals"] == ["ExecutionInProgress"]
                assert (waits["IntervalSeconds"], waits["MaxAttempts"]) == (30, 6)


def test_every_state_is_reachable_and_every_transition_lands(single: dict[str, Any]) -> None:
    states = definition(single)["States"]
    seen, pending = set(), ["Configure"]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} -> {target}"
            pending.append(target)
    assert seen == set(states)


def test_approval_is_off_unless_asked_for() -> None:
    without = filled_template()["States"]
    assert without["Configure"]["Result"] == {"approval_required": False}
    waiting = filled_template(approval=3600)["States"]
    assert waiting["Configure"]["Result"] == {"approval_required": True}
    task = waiting["WaitForApproval"]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert task["TimeoutSeconds"] == 3600
    assert task["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    assert waiting["ApprovalRequired"]["Choices"][0]["Next"] == "WaitForApproval"
    assert waiting["ApprovalRequired"]["Default"] == "StartProductionGates"


def test_outcomes_are_published_with_the_failed_state_and_cause() -> None:
    states = filled_template()["States"]
    rolled_back = states["NotifyRolledBack"]["Parameters"]
    assert rolled_back["TopicArn"] == "arn:aws:sns:eu-west-1:123456789012:demo-releases"
    assert rolled_back["Message"] == {
        "release.$": "$.release.id",
        "outcome": "rolled_back",
        "error.$": "$.rollback.output.error.Error",
        "cause.$": "$.rollback.output.error.Cause",
        "failed_state.$": "$.rollback.output.failed_state",
    }
    assert states["Rollback"]["Parameters"]["Payload"]["execution_arn.$"] == "$$.Execution.Id"
    assert states["ProductionDeployed"]["Choices"][0]["Next"] == "NotifyPromoted"


def test_wait_loops_use_the_poll_interval() -> None:
    states = filled_template(poll=45)["States"]
    waits = [s for s in states.values() if s["Type"] == "Wait"]
    # The deployments' loops poll; the gates' waits last as long as the gate says.
    assert [w.get("Seconds", w.get("SecondsPath")) for w in waits] == [
        "$.gate_staging.wait_seconds",
        45,
        "$.gate_production.wait_seconds",
        45,
    ]


def test_definition_is_the_template_with_terraform_references(single: dict[str, Any]) -> None:
    synthesized = definition(single)
    template = asl.compose([("staging", None), ("production", None)])
    assert asl.placeholders(template) == {
        "Partition",
        "ValidateFunctionArn",
        "RunTestsFunctionArn",
        "PromoteFunctionArn",
        "RollbackFunctionArn",
        "ApprovalFunctionArn",
        "NotificationTopicArn",
        "PollIntervalSeconds",
        "TaskTimeoutSeconds",
        "ExecutionTimeoutSeconds",
        "ApprovalRequired",
        "ApprovalTimeoutSeconds",
    }
    payload = synthesized["States"]["ValidateCode"]["Parameters"]
    assert payload["FunctionName"].startswith("${aws_lambda_function.")
    assert payload["FunctionName"].endswith("handlers_validate_function_814704A6.arn}")
    assert synthesized["States"].keys() == template["States"].keys()


def test_a_missing_placeholder_value_is_an_error() -> None:
    with pytest.raises(KeyError, match="RollbackFunctionArn"):
        asl.fill(asl.template(), {"Partition": "aws"})


def test_the_definition_is_valid_amazon_states_language() -> None:
    # Never skipped: make test installs the validator (npm install), and a suite that passes
    # without it proves nothing about the definition.
    assert ASL_VALIDATOR.exists(), f"{ASL_VALIDATOR} is missing: run npm install (make test does)"
    valid = subprocess.run(
        [str(ASL_VALIDATOR), "--json-definition", json.dumps(filled_template())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert valid.returncode == 0, valid.stdout + valid.stderr
    broken = filled_template()
    broken["States"]["RunTests"]["Next"] = "NoSuchState"
    invalid = subprocess.run(
        [str(ASL_VALIDATOR), "--json-definition", json.dumps(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert invalid.returncode != 0


def test_logs_all_events_traces_and_encrypts(single: dict[str, Any]) -> None:
    machine = one(single, "aws_sfn_state_machine", "state-machine")
    assert machine["name"] == "orders-deployment"
    assert machine["type"] == "STANDARD"
    assert machine["logging_configuration"]["level"] == "ALL"
    assert machine["logging_configuration"]["include_execution_data"] is True
    assert machine["tracing_configuration"]["enabled"] is True
    assert machine["encryption_configuration"]["type"] == "CUSTOMER_MANAGED_KMS_KEY"
    group = one(single, "aws_cloudwatch_log_group", "state-machine_logs")
    assert group["name"] == "/aws/vendedlogs/states/orders-deployment"
    assert group["retention_in_days"] == 365
    assert group["kms_key_id"].startswith("${aws_kms_key.")


def test_the_role_may_invoke_only_the_five_handlers(single: dict[str, Any]) -> None:
    statements = policy_statements(single, "state-machine_role")
    invoke = statement(statements, "InvokeHandlers")
    assert invoke["actions"] == ["lambda:InvokeFunction"]
    handlers = {r.split(".")[1] for r in invoke["resources"]}
    assert len(handlers) == 5 and len(invoke["resources"]) == 10
    assert statement(statements, "DeliverLogs")["actions"] == sorted(LOG_DELIVERY_ACTIONS)
    kms = statement(statements, "EncryptExecutionData")
    assert kms["condition"][0]["variable"] == "kms:EncryptionContext:aws:states:stateMachineArn"
    assert kms["condition"][0]["values"][0].endswith(":stateMachine:orders-deployment")
    all_lambda_actions = [a for s in statements for a in s["actions"] if a.startswith("lambda:")]
    assert all_lambda_actions == ["lambda:InvokeFunction"]


def test_poll_interval_out_of_range_is_refused() -> None:
    from serverless_pipeline import (
        ConfigurationError,
        DeploymentStateMachine,
        DeploymentStateMachineProps,
    )
    from serverless_pipeline.engine import TerraformStack, Testing

    stack = TerraformStack(Testing.app(), "sm")
    with pytest.raises(ConfigurationError) as raised:
        DeploymentStateMachine(
            stack,
            "sm",
            DeploymentStateMachineProps(
                name_prefix="x", poll_interval_seconds=1, log_retention_days=42
            ),
            handlers=None,
            notifications=None,
            key=None,
            context=None,  # type: ignore[arg-type]
        )
    assert raised.value.problems == [
        "name_prefix is 'x'; expected 3-20 lowercase letters, digits or '-', starting with a "
        "letter",
        "poll_interval_seconds is 1; expected a whole number from 5 to 3600 seconds",
        "log_retention_days is 42; expected one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, "
        "365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
    ]


def test_the_execution_has_a_time_limit_derived_from_the_configuration(
    single: dict[str, Any],
) -> None:
    # Without a limit a stuck release holds the QUEUED pipeline forever. Past it, the execution
    # times out, and the cleanup rule rolls back what it touched.
    limit = definition(single)["TimeoutSeconds"]
    # Each deadline, one more poll, five tasks (gate, start, last check, bake, tests).
    deployments = 2 * (3600 + 30 + 5 * 360)
    claim_wait = 30 + 60 + 120 + 240 + 300 + 300  # ClaimPipeline waiting for a cleanup
    # A stopped line is waited for an hour before staging; the last look at each gate is a task.
    gates = 3600 + 2 * 360
    assert limit == deployments + 3 * 360 + 6 * 360 + 155 + 600 + claim_wait + gates
    assert limit == asl.execution_timeout_seconds(
        [("staging", None), ("production", None)],
        deployment_timeout_seconds=3600,
        poll_interval_seconds=30,
        task_timeout_seconds=360,
        gate_seconds=gates,
    )
    waiting = asl.execution_timeout_seconds(
        [("staging", None), ("production", 4 * 3600)],
        deployment_timeout_seconds=3600,
        poll_interval_seconds=30,
        task_timeout_seconds=360,
        gate_seconds=gates,
    )
    assert waiting == limit + 4 * 3600


def test_an_execution_that_ends_unfinished_is_sent_to_rollback(single: dict[str, Any]) -> None:
    # Step Functions sends "Step Functions Execution Status Change" events to EventBridge for
    # every status change of a standard workflow's execution (Step Functions developer guide,
    # "Automating Step Functions event delivery with EventBridge").
    rule = one(single, "aws_cloudwatch_event_rule", "cleanup")
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["status"] == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"][0].endswith(":stateMachine:orders-deployment")
    target = one(single, "aws_cloudwatch_event_target", "cleanup")
    assert target["arn"].startswith("${aws_lambda_function.pipeline_handlers_rollback_function")
    permission = one(single, "aws_lambda_permission", "cleanup")
    assert (permission["principal"], permission["source_arn"]) == (
        "events.amazonaws.com",
        "${aws_cloudwatch_event_rule.pipeline_state-machine_cleanup_D20DD915.arn}",
    )
    # A cleanup that still fails after Lambda's retries reaches the release topic.
    failures = one(single, "aws_lambda_function_event_invoke_config", "cleanup")
    destination = failures["destination_config"]["on_failure"]["destination"]
    assert destination.startswith("${aws_sns_topic.")
    assert failures["maximum_retry_attempts"] == 2


@pytest.mark.parametrize(
    ("bake", "releasing"),
    [
        # Where production bakes, its bake's check is the last state that can fail into
        # Rollback: a BakeAlarm there restores every environment, so the claim is kept until it
        # passes; a second execution started during the bake waits at ClaimPipeline.
        ({"production": 600}, ["CheckProductionBake"]),
        ({"staging": 600, "production": 600}, ["CheckProductionBake"]),
        ({"staging": 600}, ["DeployProduction", "CheckProductionDeployment"]),
        ({}, ["DeployProduction", "CheckProductionDeployment"]),
    ],
)
def test_the_claim_is_released_by_the_last_state_that_can_roll_back(
    bake: dict[str, int], releasing: list[str]
) -> None:
    states = asl.compose([("staging", None), ("production", None)], bake)["States"]
    promoting = {
        name: state["Parameters"]["Payload"]
        for name, state in states.items()
        if state.get("Parameters", {}).get("FunctionName") == "${PromoteFunctionArn}"
        and state["Parameters"]["Payload"].get("action") in ("start", "status", "bake")
    }
    assert sorted(name for name, payload in promoting.items() if payload["release_claim"]) == (
        sorted(releasing)
    )
    assert all(isinstance(payload["release_claim"], bool) for payload in promoting.values())
    # The states and their transitions are those of before: only the payloads say more.
    if "production" in bake:
        assert states["ProductionDeployed"]["Choices"][0]["Next"] == "BakeProduction"
        assert states["BakeProduction"]["Next"] == "CheckProductionBake"
        assert states["CheckProductionBake"]["Next"] == "NotifyPromoted"

"""The building blocks composed by hand, each with a prefix of its own: permissions come from
the construct that owns the resource, and values cross from the objects, never repeated."""

from __future__ import annotations

import json
from typing import Any

from serverless_pipeline import (
    SMOKE_TESTS,
    ApplicationProps,
    ArtifactBuckets,
    ArtifactBucketsProps,
    AwsContext,
    DeploymentStateMachine,
    DeploymentStateMachineProps,
    DeployPipeline,
    DeployPipelineProps,
    EnvironmentSettings,
    HandlerFunctions,
    HandlerFunctionsProps,
    Notifications,
    NotificationsProps,
    PipelineKey,
    PipelineKeyProps,
    ServerlessApplication,
)
from serverless_pipeline.engine import TerraformStack, Testing, aws
from tests.conftest import one, policy_statements, statement, synth_stack


def composed() -> dict[str, Any]:
    stack = TerraformStack(Testing.app(), "composed")
    aws.provider.AwsProvider(stack, "aws", region="eu-west-1")
    context = AwsContext(stack, "context")
    key = PipelineKey(stack, "key", PipelineKeyProps(name_prefix="keys"), context)
    buckets = ArtifactBuckets(
        stack, "buckets", ArtifactBucketsProps(name_prefix="store"), key=key, context=context
    )
    application = ServerlessApplication(
        stack,
        "application",
        ApplicationProps(
            name="shop",
            production=EnvironmentSettings(
                "CodeDeployDefault.LambdaAllAtOnce", before_allow_traffic=SMOKE_TESTS
            ),
        ),
        key=key,
        context=context,
    )
    notifications = Notifications(
        stack, "notifications", NotificationsProps(name_prefix="news"), key=key, context=context
    )
    handlers = HandlerFunctions(
        stack,
        "handlers",
        HandlerFunctionsProps(name_prefix="steps", timeout_seconds=900),
        key=key,
        buckets=buckets,
        application=application,
        notifications=notifications,
        context=context,
    )
    machine = DeploymentStateMachine(
        stack,
        "machine",
        DeploymentStateMachineProps(name_prefix="flow", approval_timeout_seconds=3600),
        handlers=handlers,
        notifications=notifications,
        key=key,
        context=context,
    )
    DeployPipeline(
        stack,
        "pipeline",
        DeployPipelineProps(name_prefix="ship"),
        buckets=buckets,
        key=key,
        state_machine=machine,
        context=context,
    )
    return synth_stack(stack)


def test_the_state_machine_grants_its_own_arns_whatever_the_prefixes() -> None:
    document = composed()
    approval = statement(
        policy_statements(document, "handlers_approval_role"), "AnswerApprovalTasks"
    )
    assert approval["resources"][0].endswith(":stateMachine:flow-deployment")
    history = statement(
        policy_statements(document, "handlers_rollback_role"), "ReadWhichStateFailed"
    )
    assert history["resources"][0].endswith(":execution:flow-deployment:*")
    pipeline = policy_statements(document, "pipeline_role")
    assert statement(pipeline, "StartDeployment")["resources"][0].endswith(
        ":stateMachine:flow-deployment"
    )
    assert statement(pipeline, "WatchDeployment")["resources"][0].endswith(
        ":execution:flow-deployment:*"
    )
    hook = statement(policy_statements(document, "production-deployer"), "InvokeLibraryTrafficHook")
    assert hook["resources"][0].endswith(":function:steps-traffic-hook")


def test_task_timeouts_follow_the_handlers_timeout() -> None:
    document = composed()
    machine = one(document, "aws_sfn_state_machine", "machine")
    states = json.loads(machine["definition"])["States"]
    invoking = {
        name: state["TimeoutSeconds"]
        for name, state in states.items()
        if state.get("Resource", "").endswith(":states:::lambda:invoke")
    }
    assert invoking and set(invoking.values()) == {960}, invoking
    function = one(document, "aws_lambda_function", "handlers_promote_function")
    assert function["timeout"] == 900

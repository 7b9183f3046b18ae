"""DeploymentStateMachine: the Step Functions workflow that every release goes through."""

from __future__ import annotations

import json
from dataclasses import dataclass

from constructs import Construct

from .. import asl, defaults, naming
from ..asl import definition_values
from ..engine import aws
from ..layout import cleanup_rule_name, cleanup_rule_pattern, gate_seconds
from ..pipeline_settings import validate_state_machine_settings
from ..validation import NAME_PREFIX, NAME_PREFIX_ACCEPTED, Problems
from .aws_context import AwsContext
from .encryption import LOG_DELIVERY_CONTEXT, PipelineKey, encrypted_log_group
from .handler_functions import HandlerFunctions
from .iam import XRAY_WRITE, Condition, ServiceRole, Statement
from .notifications import Notifications

# CloudWatch Logs delivery for Step Functions accepts these actions only on "*".
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
)


@dataclass(frozen=True)
class DeploymentStateMachineProps:
    """Props of `DeploymentStateMachine`."""

    name_prefix: str
    """The state machine is named <prefix>-deployment."""
    poll_interval_seconds: int = defaults.POLL_INTERVAL_SECONDS
    """Seconds between two checks of a running CodeDeploy deployment (5-3600). Each check costs
    three state transitions, so a canary of 10 minutes at 30 s costs about 60."""
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    """Retention of the execution log group."""
    approval_timeout_seconds: int | None = None
    """Require a person's approval before the last environment (production), and roll back
    when none comes within this many seconds (60 to 31536000). Omitted: the environments' own
    approval_timeout_seconds, if any."""


class DeploymentStateMachine(Construct):
    """ValidateCode, RunTests, then per environment Deploy<Env> and (but the last)
    RunTestsIn<Env>, with approval gates where asked (WaitForApproval before the last),
    NotifyPromoted; any failure goes to Rollback, NotifyRolledBack and a Fail state carrying the
    original error and cause. For staging and production: DeployStaging, RunTestsInStaging,
    DeployProduction.

    The definition is composed from the templates in `serverless_pipeline/asl/` for the
    application's environments (asl.compose), with its placeholders filled.
    The machine logs ALL events with execution data to an encrypted log group, traces with
    X-Ray, and encrypts its data with the pipeline key.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: DeploymentStateMachineProps,
        *,
        handlers: HandlerFunctions,
        notifications: Notifications,
        key: PipelineKey,
        context: AwsContext,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems("DeploymentStateMachine")
        problems.pattern("name_prefix", props.name_prefix, NAME_PREFIX, NAME_PREFIX_ACCEPTED)
        validate_state_machine_settings(
            problems,
            poll_interval_seconds=props.poll_interval_seconds,
            log_retention_days=props.log_retention_days,
            approval_timeout_seconds=props.approval_timeout_seconds,
        )
        problems.raise_if_any()
        self.name = naming.state_machine(props.name_prefix)
        self._context = context
        self.log_group = encrypted_log_group(
            self,
            "logs",
            name=f"/aws/vendedlogs/states/{self.name}",
            key=key,
            retention_days=props.log_retention_days,
        )
        function_arns = [f.arn for f in handlers.functions.values()]
        self.role = ServiceRole(
            self,
            "role",
            name=f"{self.name}-sfn",
            service="states.amazonaws.com",
            description=f"Runs the {self.name} state machine",
            statements=[
                Statement(
                    "InvokeHandlers",
                    ["lambda:InvokeFunction"],
                    [*function_arns, *(f"{arn}:*" for arn in function_arns)],
                ),
                Statement("DeliverLogs", list(LOG_DELIVERY_ACTIONS), ["*"]),
                XRAY_WRITE,
                *notifications.grant_publish(),
                Statement(
                    "EncryptExecutionLogs",
                    ["kms:GenerateDataKey"],
                    [key.arn],
                    [Condition("StringEquals", LOG_DELIVERY_CONTEXT, [context.arn("logs", "*")])],
                ),
                Statement(
                    "EncryptExecutionData",
                    ["kms:Decrypt", "kms:GenerateDataKey"],
                    [key.arn],
                    [
                        Condition(
                            "StringEquals",
                            "kms:EncryptionContext:aws:states:stateMachineArn",
                            [self.arn_from_name(context)],
                        )
                    ],
                ),
            ],
        )
        environments = handlers.application_layout.stages(props.approval_timeout_seconds)
        definition = asl.render(
            definition_values(
                partition=context.partition,
                validate=handlers.validate.arn,
                run_tests=handlers.run_tests.arn,
                promote=handlers.promote.arn,
                rollback=handlers.rollback.arn,
                approval=handlers.approval.arn,
                notification_topic=notifications.arn,
                poll_interval_seconds=props.poll_interval_seconds,
                task_timeout_seconds=handlers.layout.task_timeout_seconds,
                deployment_timeout_seconds=handlers.layout.deployment_timeout_seconds,
                environments=environments,
                gate_seconds=gate_seconds(handlers.application_layout, handlers.layout),
            ),
            environments,
            handlers.application_layout.bake(),
        )
        self.state_machine = aws.sfn_state_machine.SfnStateMachine(
            self,
            "state-machine",
            name=self.name,
            role_arn=self.role.arn,
            type="STANDARD",
            definition=definition,
            logging_configuration=aws.sfn_state_machine.SfnStateMachineLoggingConfiguration(
                level="ALL",
                include_execution_data=True,
                log_destination=f"{self.log_group.arn}:*",
            ),
            tracing_configuration=aws.sfn_state_machine.SfnStateMachineTracingConfiguration(
                enabled=True
            ),
            encryption_configuration=aws.sfn_state_machine.SfnStateMachineEncryptionConfiguration(
                type="CUSTOMER_MANAGED_KMS_KEY",
                kms_key_id=key.arn,
                kms_data_key_reuse_period_seconds=300,
            ),
            depends_on=[self.role.policy],
        )
        self.grant_task_response(handlers.approval.role)
        self.grant_read_execution_history(handlers.rollback.role)
        self.grant_describe_executions(handlers.promote.role)
        self._cleanup_rule(handlers, notifications)

    def _cleanup_rule(self, handlers: HandlerFunctions, notifications: Notifications) -> None:
        """Whatever ends an execution without success (StopExecution, its time limit, an
        error outside any Catch), rollback restores what it touched: EventBridge sends it the
        execution's status change. It retries twice; if it still fails, Lambda sends the
        failed event to the release topic, where operators hear of it."""
        rollback = handlers.rollback
        self.cleanup_rule = aws.cloudwatch_event_rule.CloudwatchEventRule(
            self,
            "cleanup",
            name=cleanup_rule_name(self.name),
            description=f"Rolls back what an execution of {self.name} touched when it ends "
            "aborted, timed out or failed",
            event_pattern=json.dumps(
                cleanup_rule_pattern(self.arn_from_name(self._context)), sort_keys=True
            ),
        )
        permission = aws.lambda_permission.LambdaPermission(
            self,
            "cleanup-permission",
            statement_id="CleanupRule",
            action="lambda:InvokeFunction",
            function_name=rollback.name,
            principal="events.amazonaws.com",
            source_arn=self.cleanup_rule.arn,
        )
        aws.cloudwatch_event_target.CloudwatchEventTarget(
            self,
            "cleanup-target",
            rule=self.cleanup_rule.name,
            arn=rollback.arn,
            retry_policy=aws.cloudwatch_event_target.CloudwatchEventTargetRetryPolicy(
                maximum_event_age_in_seconds=86400, maximum_retry_attempts=185
            ),
            depends_on=[permission],
        )
        aws.lambda_function_event_invoke_config.LambdaFunctionEventInvokeConfig(
            self,
            "cleanup-failures",
            function_name=rollback.name,
            maximum_retry_attempts=2,
            destination_config=aws.lambda_function_event_invoke_config.LambdaFunctionEventInvokeConfigDestinationConfig(
                on_failure=aws.lambda_function_event_invoke_config.LambdaFunctionEventInvokeConfigDestinationConfigOnFailure(
                    destination=notifications.arn
                )
            ),
        )

    def arn_from_name(self, context: AwsContext) -> str:
        """The machine's ARN built from its name, usable where a reference would form a cycle."""
        return context.arn("states", f"stateMachine:{self.name}")

    def executions_arn(self) -> str:
        """Every execution of this machine (execution:<name>:*)."""
        return self._context.arn("states", f"execution:{self.name}:*")

    def grant_task_response(self, role: ServiceRole) -> None:
        """Answer this machine's task tokens (the approval handler)."""
        role.add_statements(
            Statement(
                "AnswerApprovalTasks",
                ["states:SendTaskFailure", "states:SendTaskSuccess"],
                [self.arn_from_name(self._context)],
            )
        )

    def grant_read_execution_history(self, role: ServiceRole) -> None:
        """Read which state of an execution failed (the rollback handler)."""
        role.add_statements(
            Statement(
                "ReadWhichStateFailed", ["states:GetExecutionHistory"], [self.executions_arn()]
            )
        )

    def grant_describe_executions(self, role: ServiceRole) -> None:
        """Read whether an execution still runs, and its input (promote's claim of the
        pipeline, which cleans up after a holder that ended without its cleanup)."""
        role.add_statements(
            Statement(
                "ReadWhetherExecutionsRun", ["states:DescribeExecution"], [self.executions_arn()]
            )
        )

    def grant_start_execution(self, role: ServiceRole) -> None:
        """Start executions and watch them, as CodePipeline's StepFunctions action does."""
        role.add_statements(
            Statement(
                "StartDeployment",
                ["states:DescribeStateMachine", "states:StartExecution"],
                [self.arn_from_name(self._context)],
            ),
            Statement(
                "WatchDeployment",
                ["states:DescribeExecution", "states:StopExecution"],
                [self.executions_arn()],
            ),
        )

    @property
    def arn(self) -> str:
        return self.state_machine.arn

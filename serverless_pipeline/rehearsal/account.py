"""One emulated AWS account laid out as the synthesized stack lays out a real one.

Names, deployment configs, alarms, rollback events, timeouts, handler configuration and the state
machine definition come from the same layout (serverless_pipeline/layout.py) and ASL templates
as the constructs; only ARNs are the emulator's. Every interval keeps its configured value: the
emulator's clock lets it pass in moments (emulator/clock.py).

The roles' permissions come from the synthesized stack itself (`policies`): the handlers, the
traffic hooks, the deployment roles and the state machine are allowed exactly what the stack's
IAM policies allow them (emulator/iam_enforcement.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from .. import asl, naming
from ..application_settings import placeholder_code
from ..asl import definition_values
from ..assets import handlers_package
from ..config import PipelineConfig
from ..emulator.accounts import account_client, forget_operators
from ..emulator.cloudwatch import breached
from ..emulator.iam_policies import StackPolicies, StackValues, matched_references, stack_policies
from ..handlers.events import release_key
from ..handlers.lambda_versions import describe, release_of
from ..layout import (
    ApplicationLayout,
    EnvironmentLayout,
    PipelineLayout,
    cleanup_rule_name,
    cleanup_rule_pattern,
    deployment_role_trust,
    pipeline_layout,
)
from . import sample_app
from .source import ReleaseSource

ACCOUNT_ID = "123456789012"
FIRST_RELEASE = "r1"
TRAFFIC_REQUESTS = 5
# While a release bakes, its users keep coming: twice the canary's requests per function.
BAKE_REQUESTS = 2 * TRAFFIC_REQUESTS


@dataclass
class EmulatedAccount:
    """Clients and names of the emulated account."""

    config: PipelineConfig
    s3: Any
    lam: Any
    sfn: Any
    codedeploy: Any
    artifact_bucket: str
    approvals_bucket: str
    state_machine_arn: str
    inbox: str
    application: ApplicationLayout
    source: ReleaseSource
    handler_variables: dict[str, str] = field(default_factory=dict)
    """The handlers' environment variables, as the emulator renders them."""
    enforced_roles: list[str] = field(default_factory=list)
    """The ARNs of the roles whose calls the stack's policies govern: the handlers', the
    traffic hooks' and the deployment roles' (the state machine's comes from the stack)."""

    @property
    def approval_function(self) -> str:
        return naming.handler_function(self.config.name, "approval")

    def notifications(self) -> list[Any]:
        """Every message the topic delivered so far, in order, parsed from JSON."""
        sqs = boto3.client("sqs", region_name=self.config.region)
        messages: list[Any] = []
        while batch := sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=message["ReceiptHandle"])
        return messages

    def approval_pending(self, execution: str) -> tuple[str, int] | None:
        """(environment, requested at) of the request this execution's gate waits on, once
        the approval handler has recorded it; None when none waits."""
        key = f"approvals/{execution}.json"
        try:
            body = self.s3.get_object(Bucket=self.approvals_bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        record = json.loads(body)
        if record.get("state") != "waiting":
            return None
        return str(record["environment"]), int(record["requested_at"])

    def upload(self, release: str, data: bytes) -> dict[str, str]:
        """Put a release where the build would, and return the state machine's input."""
        key = release_key(release)
        stored = self.s3.put_object(Bucket=self.artifact_bucket, Key=key, Body=data)
        return {
            "id": release,
            "bucket": self.artifact_bucket,
            "key": key,
            "sha256": hashlib.sha256(data).hexdigest(),
            "version_id": stored["VersionId"],
        }

    def home(self, environment: str) -> tuple[str, str]:
        """(account, region) an environment lives in."""
        return home_of(self.config, self.application.environment(environment))

    def user_traffic(self, account_id: str, region: str, function_name: str, alias: str) -> None:
        """The application's users while a deployment shifts traffic: a few requests through
        the alias, the events the release source says they send. Their errors reach the
        alarms through Lambda's metrics, as in AWS."""
        function = next(
            f.key for _, f in self.application.targets() if f.function_name == function_name
        )
        events = self.source.traffic_events(function)
        lam = account_client("lambda", account_id, region)
        for index in range(TRAFFIC_REQUESTS if events else 0):
            lam.invoke(
                FunctionName=function_name,
                Qualifier=alias,
                Payload=json.dumps(events[index % len(events)]).encode(),
            )

    def users_while_baking(self, environment: str) -> list[str]:
        """The application's users while a release bakes in `environment`: requests through
        every function's alias, after which CloudWatch evaluates the environment's alarms on
        them; the names of the alarms that went off."""
        account, region = self.home(environment)
        layout = self.application.environment(environment)
        lam = account_client("lambda", account, region)
        for function in layout.functions:
            events = self.source.traffic_events(function.key)
            for index in range(BAKE_REQUESTS if events else 0):
                lam.invoke(
                    FunctionName=function.function_name,
                    Qualifier=layout.alias,
                    Payload=json.dumps(events[index % len(events)]).encode(),
                )
        return breached(account, region, self.application.watched_alarms(environment))

    def functions_live(self, environment: str) -> dict[str, str | None]:
        """Function -> the release its live alias serves in the environment, read back from
        Lambda."""
        live = {}
        lam = account_client("lambda", *self.home(environment))
        for function in self.application.environment(environment).functions:
            version = lam.get_alias(
                FunctionName=function.function_name, Name=self.application.alias
            )["FunctionVersion"]
            live[function.key] = release_of(lam, function.function_name, version)
        return live


def home_of(config: PipelineConfig, environment: EnvironmentLayout) -> tuple[str, str]:
    """(account, region) of an environment: its own where it names them, else the pipeline's."""
    placement = environment.placement
    account = placement.account_id if placement and placement.account_id else ACCOUNT_ID
    region = placement.region if placement and placement.region else config.region
    return account, region


def role_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{name}"


def function_arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"


def topic_arn(config: PipelineConfig) -> str:
    return f"arn:aws:sns:{config.region}:{ACCOUNT_ID}:{naming.notification_topic(config.name)}"


def deployment_definition(config: PipelineConfig) -> str:
    """The state machine definition the constructs synthesize, with emulator values."""
    layout = pipeline_layout(config)
    functions = {
        handler: function_arn(config.region, name)
        for handler, name in layout.handlers.functions.items()
    }
    environments = layout.application.stages()
    return asl.render(
        definition_values(
            partition="aws",
            validate=functions["validate"],
            run_tests=functions["run_tests"],
            promote=functions["promote"],
            rollback=functions["rollback"],
            approval=functions["approval"],
            notification_topic=topic_arn(config),
            # The configuration's own intervals: the emulator's clock lets them pass.
            poll_interval_seconds=layout.poll_interval_seconds,
            task_timeout_seconds=layout.handlers.task_timeout_seconds,
            deployment_timeout_seconds=layout.handlers.deployment_timeout_seconds,
            environments=environments,
            gate_seconds=layout.gate_seconds,
        ),
        environments,
        layout.application.bake(),
    )


def create(config: PipelineConfig, source: ReleaseSource | None = None) -> EmulatedAccount:
    """Lay out the account (inside an active moto mock) with FIRST_RELEASE of `source` (by
    default the sample app) live everywhere, from the same layout the constructs synthesize
    (serverless_pipeline/layout.py)."""
    source = source or sample_app.SampleApp()
    region = config.region
    forget_operators()
    layout = pipeline_layout(config)
    s3 = boto3.client("s3", region_name=region)
    lam = boto3.client("lambda", region_name=region)
    iam = boto3.client("iam", region_name=region)
    codedeploy = boto3.client("codedeploy", region_name=region)
    sfn = boto3.client("stepfunctions", region_name=region)

    application = layout.application
    environments = application.environment_names
    homes = {name: home_of(config, application.environment(name)) for name in environments}
    buckets = {role: f"{config.name}-{role}-rehearsal" for role in ("artifacts", *environments)}
    where = {"artifacts": (ACCOUNT_ID, region), **homes}
    # Every account a function runs in has the role its functions run as.
    roles = {
        account: _role(
            account_client("iam", account, region),
            "rehearsal",
            {"Service": ["lambda.amazonaws.com", "codedeploy.amazonaws.com"]},
        )
        for account in sorted({ACCOUNT_ID, *(account for account, _ in homes.values())})
    }
    role = roles[ACCOUNT_ID]
    for bucket_role, bucket in buckets.items():
        account, bucket_region = where[bucket_role]
        bucket_s3 = account_client("s3", account, bucket_region)
        # S3 refuses a location constraint for us-east-1, its default region.
        located = (
            {}
            if bucket_region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": bucket_region}}
        )
        bucket_s3.create_bucket(Bucket=bucket, **located)
        bucket_s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    inbox = _notifications(config, layout)
    # The stop-the-line switch, open, as HandlerFunctions creates it.
    boto3.client("ssm", region_name=region).put_parameter(
        Name=layout.handlers.line_switch, Value="open", Type="String"
    )
    first = source.release_zip("ok", FIRST_RELEASE)
    _application(config, application, first, roles)
    variables = layout.handlers.environment(
        application,
        artifact_bucket=buckets["artifacts"],
        buckets={environment: buckets[environment] for environment in environments},
        notification_topic=topic_arn(config),
        pipeline_account=ACCOUNT_ID,
        pipeline_partition="aws",
    )
    handler_roles = {
        handler: _role(iam, f"{name}-fn", {"Service": "lambda.amazonaws.com"})
        for handler, name in layout.handlers.functions.items()
    }
    deployment_roles = _deployment_roles(config, application, handler_roles)
    hook_roles = _placed_hooks(config, layout, variables)
    _handlers(layout, role, handler_roles, variables, lam)
    machine = sfn.create_state_machine(
        name=layout.state_machine, definition=deployment_definition(config), roleArn=role
    )
    _cleanup_rule(region, layout, machine["stateMachineArn"])
    return EmulatedAccount(
        config,
        s3,
        lam,
        sfn,
        codedeploy,
        buckets["artifacts"],
        buckets[application.approvals_environment or "artifacts"],
        machine["stateMachineArn"],
        inbox,
        layout.application,
        source,
        variables,
        [*handler_roles.values(), *hook_roles, *deployment_roles],
    )


# Stacks synthesized in this process, by configuration: a rehearsal of the same pipeline again
# (the tests', the crash drills') reuses its stack.
_SYNTHESIZED: dict[str, dict[str, Any]] = {}


def synthesized(config: PipelineConfig) -> dict[str, Any]:
    """The stack the constructs synthesize for `config` (its cdk.tf.json), as `cdktf synth`
    writes it. The constructs load only here: a rehearsal of a given stack (`rehearse --stack`)
    needs no engine."""
    key = repr(config)
    if key not in _SYNTHESIZED:
        from ..constructs.stack import ServerlessPipelineStack
        from ..engine import Testing

        stack = ServerlessPipelineStack(Testing.app(), "rehearsal", config)
        _SYNTHESIZED[key] = json.loads(Testing.synth(stack))
    return _SYNTHESIZED[key]


def policies(account: EmulatedAccount, document: Mapping[str, Any]) -> StackPolicies:
    """The stack's policies of the roles the rehearsal runs code and tasks as, resolved to the
    emulated account: the handlers' environment in the stack and in the emulator, side by
    side, say what the stack's references to buckets and the topic are here."""
    known: dict[str, str] = {}
    handler_names = set(pipeline_layout(account.config).handlers.functions.values())
    for function in document.get("resource", {}).get("aws_lambda_function", {}).values():
        if function.get("function_name") in handler_names:
            environment = function.get("environment") or {}
            environment = environment[0] if isinstance(environment, list) else environment
            known.update(
                matched_references(environment.get("variables", {}), account.handler_variables)
            )
    values = StackValues(document, ACCOUNT_ID, known)
    return stack_policies(values, account.enforced_roles)


def _notifications(config: PipelineConfig, layout: PipelineLayout) -> str:
    """The topic, and the subscriber the rehearsal reads: what an on-call channel would have
    received. Returns the subscriber queue's URL."""
    region = config.region
    sns, sqs = boto3.client("sns", region_name=region), boto3.client("sqs", region_name=region)
    topic = sns.create_topic(Name=layout.notification_topic)["TopicArn"]
    inbox: str = sqs.create_queue(QueueName="rehearsal-notifications")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=inbox_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return inbox


def _role(iam: Any, name: str, principal: dict[str, Any]) -> str:
    """A role of that name (trusted by `principal`), as the stack creates it; its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
    }
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(created["Role"]["Arn"])


def _own_alarms(config: PipelineConfig, application: ApplicationLayout, environment: str) -> None:
    """The user's own alarms that watch an environment (extra_alarm_names) exist in its
    account, quiet: the stack does not create them, the user's account has them."""
    layout = application.environment(environment)
    pipeline = {spec.name for f in layout.functions for spec in f.alarms}
    cloudwatch = account_client("cloudwatch", *home_of(config, layout))
    for name in application.watched_alarms(environment):
        if name not in pipeline:
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                Namespace="Rehearsal/UserAlarms",
                MetricName=name,
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                TreatMissingData="notBreaching",
            )


def _deployment_roles(
    config: PipelineConfig, application: ApplicationLayout, handler_roles: dict[str, str]
) -> list[str]:
    """Each environment elsewhere has the role the acting handlers assume there, trusting
    exactly their roles, as HandlerFunctions creates it; their ARNs."""
    created = []
    for environment in application.placed:
        assert environment.placement is not None
        account, region = home_of(config, environment)
        trusted = [handler_roles[h] for h in application.acting_handlers(environment.name)]
        answer = account_client("iam", account, region).create_role(
            RoleName=environment.placement.deployment_role,
            AssumeRolePolicyDocument=json.dumps(deployment_role_trust(trusted)),
        )
        created.append(str(answer["Role"]["Arn"]))
    return created


def _placed_hooks(
    config: PipelineConfig, layout: PipelineLayout, variables: dict[str, str]
) -> list[str]:
    """The library's traffic hook where an environment elsewhere runs it, as HandlerFunctions
    creates it there, with a role of its own there as in the stack; the roles' ARNs."""
    created = []
    for environment, name in layout.handlers.placed_hooks.items():
        account, region = home_of(config, layout.application.environment(environment))
        hook_role = _role(
            account_client("iam", account, region),
            f"{name}-fn",
            {"Service": "lambda.amazonaws.com"},
        )
        created.append(hook_role)
        account_client("lambda", account, region).create_function(
            FunctionName=name,
            Runtime=layout.handlers.runtime,
            Role=hook_role,
            Handler="handlers.traffic_hook.handler",
            Code={"ZipFile": handlers_package()},
            Environment={"Variables": variables},
            Timeout=layout.handlers.timeout_seconds,
            MemorySize=layout.handlers.memory_mb,
        )
    return created


def _application(
    config: PipelineConfig, application: ApplicationLayout, first: bytes, roles: dict[str, str]
) -> None:
    """Each function in each environment with `first` (FIRST_RELEASE) behind its alias, its
    alarms and its deployment group, where the environment lives, as ServerlessApplication
    creates them."""
    applications: set[tuple[str, str]] = set()
    for environment in application.environments:
        _own_alarms(config, application, environment.name)
    for environment, function in application.targets():
        account, region = home_of(config, environment)
        lam = account_client("lambda", account, region)
        codedeploy = account_client("codedeploy", account, region)
        cloudwatch = account_client("cloudwatch", account, region)
        if (account, region) not in applications:
            applications.add((account, region))
            codedeploy.create_application(
                applicationName=application.name, computePlatform="Lambda"
            )
        published = lam.create_function(
            FunctionName=function.function_name,
            Runtime=function.runtime,
            Architectures=[function.architecture],
            Role=roles[account],
            Handler=function.handler,
            Code={"ZipFile": first},
            Environment={"Variables": dict(function.variables)},
            Description=describe(FIRST_RELEASE),
            Timeout=function.timeout_seconds,
            MemorySize=function.memory_mb,
            Publish=True,
        )
        lam.create_alias(
            FunctionName=function.function_name,
            Name=environment.alias,
            FunctionVersion=published["Version"],
        )
        for spec in function.alarms:
            cloudwatch.put_metric_alarm(
                AlarmName=spec.name,
                Namespace="AWS/Lambda",
                MetricName=spec.metric_name,
                Dimensions=[{"Name": k, "Value": v} for k, v in spec.dimensions.items()],
                Statistic=spec.statistic,
                Period=spec.period_seconds,
                EvaluationPeriods=spec.evaluation_periods,
                Threshold=spec.threshold,
                ComparisonOperator=spec.comparison,
                TreatMissingData=spec.treat_missing_data,
            )
        # moto keeps no custom deployment configs: the group names the config as the stack's
        # does, and the emulator's CodeDeploy shifts in moments whatever the config.
        codedeploy.create_deployment_group(
            applicationName=application.name,
            deploymentGroupName=function.deployment_group,
            serviceRoleArn=roles[account],
            deploymentConfigName=environment.deployment_config,
            deploymentStyle={
                "deploymentType": "BLUE_GREEN",
                "deploymentOption": "WITH_TRAFFIC_CONTROL",
            },
            alarmConfiguration={
                "enabled": bool(function.watched_alarms),
                "alarms": [{"name": name} for name in function.watched_alarms],
            },
            autoRollbackConfiguration={
                "enabled": True,
                "events": list(function.rollback_events),
            },
        )


def _cleanup_rule(region: str, layout: PipelineLayout, state_machine_arn: str) -> None:
    """The rule that sends an unfinished execution to rollback, as DeploymentStateMachine
    creates it."""
    events = boto3.client("events", region_name=region)
    name = cleanup_rule_name(layout.state_machine)
    events.put_rule(Name=name, EventPattern=json.dumps(cleanup_rule_pattern(state_machine_arn)))
    rollback = function_arn(region, layout.handlers.functions["rollback"])
    events.put_targets(Rule=name, Targets=[{"Id": "rollback", "Arn": rollback}])


def _handlers(
    layout: PipelineLayout,
    role: str,
    handler_roles: dict[str, str],
    variables: dict[str, str],
    lam: Any,
) -> None:
    """The handler functions and the candidate function, as HandlerFunctions creates them."""
    application, handlers = layout.application, layout.handlers
    lam.create_function(
        FunctionName=handlers.candidate_function,
        Runtime=str(application.first.runtime),
        Architectures=[application.first.architecture],
        Role=role,
        Handler=application.first.handler,
        Code={"ZipFile": placeholder_code(application.functions)},
        Timeout=handlers.test_case_timeout_seconds,
        MemorySize=application.largest_memory_mb,
    )
    code = handlers_package()
    for handler, name in handlers.functions.items():
        lam.create_function(
            FunctionName=name,
            Runtime=handlers.runtime,
            Role=handler_roles[handler],
            Handler=f"handlers.{handler}.handler",
            Code={"ZipFile": code},
            Environment={"Variables": variables},
            Timeout=handlers.timeout_seconds,
            MemorySize=handlers.memory_mb,
        )

"""One emulated AWS account laid out as the synthesized stack lays out a real one.

Names, handler configuration and the state machine definition come from the same config, naming
module and ASL template as the constructs; only ARNs, the poll interval and the approval timeout
(so that a rehearsal does not sleep) are filled with the emulator's values.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import boto3

from .. import asl, naming
from ..alarms import alarm_specs, watched_alarm_names
from ..application_settings import placeholder_code, runs_library_hook
from ..asl import definition_values
from ..assets import handlers_package
from ..config import PipelineConfig
from ..defaults import HANDLER_TIMEOUT_SECONDS, TEST_CASE_TIMEOUT_SECONDS
from ..handlers.lambda_versions import describe
from ..naming import ENVIRONMENTS, HANDLER_NAMES
from . import sample_app

ACCOUNT_ID = "123456789012"
# Zero would be rejected by Step Functions; one second is the shortest real interval.
REHEARSAL_POLL_INTERVAL_SECONDS = 1
FIRST_RELEASE = "r1"
TRAFFIC_REQUESTS = 5
REHEARSAL_APPROVAL_TIMEOUT_SECONDS = 3


@dataclass
class EmulatedAccount:
    """Clients and names of the emulated account."""

    config: PipelineConfig
    s3: Any
    lam: Any
    sfn: Any
    codedeploy: Any
    artifact_bucket: str
    production_bucket: str
    state_machine_arn: str
    inbox: str

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

    def approval_pending(self, execution: str) -> bool:
        """Whether the approval handler has recorded a request for this execution."""
        listed = self.s3.list_objects_v2(
            Bucket=self.production_bucket, Prefix=f"approvals/{execution}.json"
        )
        return bool(listed.get("KeyCount"))

    def upload(self, release: str, data: bytes) -> dict[str, str]:
        """Put a release where the build would, and return the state machine's input."""
        key = f"releases/{release}/app.zip"
        stored = self.s3.put_object(Bucket=self.artifact_bucket, Key=key, Body=data)
        return {
            "id": release,
            "bucket": self.artifact_bucket,
            "key": key,
            "sha256": hashlib.sha256(data).hexdigest(),
            "version_id": stored["VersionId"],
        }

    def live_release(self, environment: str) -> str | None:
        """The release the environment's live alias serves, read back from Lambda."""
        application = self.config.application
        function = naming.app_function(application.name, environment)
        version = self.lam.get_alias(FunctionName=function, Name=application.alias)[
            "FunctionVersion"
        ]
        description: str = self.lam.get_function_configuration(
            FunctionName=function, Qualifier=version
        )["Description"]
        return description.removeprefix("release ") if description.startswith("release ") else None


def function_arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"


def topic_arn(config: PipelineConfig) -> str:
    return f"arn:aws:sns:{config.region}:{ACCOUNT_ID}:{naming.notification_topic(config.name)}"


def deployment_definition(config: PipelineConfig) -> str:
    """The state machine definition the constructs synthesize, with emulator values."""
    return asl.render(
        definition_values(
            partition="aws",
            validate=function_arn(config.region, naming.handler_function(config.name, "validate")),
            run_tests=function_arn(
                config.region, naming.handler_function(config.name, "run_tests")
            ),
            promote=function_arn(config.region, naming.handler_function(config.name, "promote")),
            rollback=function_arn(config.region, naming.handler_function(config.name, "rollback")),
            approval=function_arn(config.region, naming.handler_function(config.name, "approval")),
            notification_topic=topic_arn(config),
            poll_interval_seconds=REHEARSAL_POLL_INTERVAL_SECONDS,
            task_timeout_seconds=HANDLER_TIMEOUT_SECONDS + 60,
            # A person who gives no answer is rehearsed in seconds, not hours.
            approval_timeout_seconds=REHEARSAL_APPROVAL_TIMEOUT_SECONDS
            if config.approval_timeout_seconds
            else None,
        )
    )


def create(config: PipelineConfig) -> EmulatedAccount:
    """Lay out the account (inside an active moto mock) with FIRST_RELEASE live everywhere."""
    region = config.region
    s3 = boto3.client("s3", region_name=region)
    lam = boto3.client("lambda", region_name=region)
    iam = boto3.client("iam", region_name=region)
    codedeploy = boto3.client("codedeploy", region_name=region)
    sfn = boto3.client("stepfunctions", region_name=region)
    cloudwatch = boto3.client("cloudwatch", region_name=region)
    application = config.application

    buckets = {role: f"{config.name}-{role}-rehearsal" for role in ("artifacts", *ENVIRONMENTS)}
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    role = iam.create_role(RoleName="rehearsal", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sns, sqs = boto3.client("sns", region_name=region), boto3.client("sqs", region_name=region)
    topic = sns.create_topic(Name=naming.notification_topic(config.name))["TopicArn"]
    # The subscriber the rehearsal reads: what an on-call channel would have received.
    inbox = sqs.create_queue(QueueName="rehearsal-notifications")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=inbox_arn,
        Attributes={"RawMessageDelivery": "true"},
    )

    first = sample_app.release_zip("ok", FIRST_RELEASE)
    codedeploy.create_application(applicationName=application.name, computePlatform="Lambda")
    for environment in ENVIRONMENTS:
        function = naming.app_function(application.name, environment)
        published = lam.create_function(
            FunctionName=function,
            Runtime=application.runtime,
            Role=role,
            Handler=application.handler,
            Code={"ZipFile": first},
            Environment={"Variables": dict(application.settings(environment).variables)},
            Description=describe(FIRST_RELEASE),
            Timeout=application.timeout_seconds,
            MemorySize=application.memory_mb,
            Publish=True,
        )
        lam.create_alias(
            FunctionName=function, Name=application.alias, FunctionVersion=published["Version"]
        )
        settings = application.settings(environment)
        for spec in alarm_specs(function, application.alias, settings.alarms):
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
        watched = watched_alarm_names(function, application.alias, settings.alarms)
        codedeploy.create_deployment_group(
            applicationName=application.name,
            deploymentGroupName=naming.deployment_group(application.name, environment),
            serviceRoleArn=role,
            deploymentConfigName=str(settings.deployment_config),
            deploymentStyle={
                "deploymentType": "BLUE_GREEN",
                "deploymentOption": "WITH_TRAFFIC_CONTROL",
            },
            alarmConfiguration={
                "enabled": bool(watched),
                "alarms": [{"name": name} for name in watched],
            },
            autoRollbackConfiguration={
                "enabled": True,
                "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
            },
        )

    variables = naming.handler_environment(
        artifact_bucket=buckets["artifacts"],
        app_handler=application.handler,
        test_manifest=config.test_manifest,
        application=application.name,
        alias=application.alias,
        buckets={environment: buckets[environment] for environment in ENVIRONMENTS},
        deployment_timeout_seconds=config.deployment_timeout_seconds,
        candidate_function=naming.candidate_function(config.name),
        notification_topic=topic_arn(config),
        hooks={
            environment: application.settings(environment).hooks(
                naming.handler_function(config.name, "traffic_hook")
            )
            for environment in ENVIRONMENTS
        },
    )
    lam.create_function(
        FunctionName=naming.candidate_function(config.name),
        Runtime=application.runtime,
        Role=role,
        Handler=application.handler,
        Code={"ZipFile": placeholder_code(application.handler)},
        Timeout=TEST_CASE_TIMEOUT_SECONDS,
        MemorySize=application.memory_mb,
    )
    handlers = handlers_package()
    hook = ("traffic_hook",) if runs_library_hook(application) else ()
    for name in (*HANDLER_NAMES, *hook):
        lam.create_function(
            FunctionName=naming.handler_function(config.name, name),
            Runtime=application.runtime,
            Role=role,
            Handler=f"handlers.{name}.handler",
            Code={"ZipFile": handlers},
            Environment={"Variables": variables},
            Timeout=HANDLER_TIMEOUT_SECONDS,
        )

    machine = sfn.create_state_machine(
        name=naming.state_machine(config.name),
        definition=deployment_definition(config),
        roleArn=role,
    )
    return EmulatedAccount(
        config,
        s3,
        lam,
        sfn,
        codedeploy,
        buckets["artifacts"],
        buckets["production"],
        machine["stateMachineArn"],
        inbox,
    )


def user_traffic(region: str, function_name: str, alias: str) -> None:
    """The sample app's users while a deployment shifts traffic: a few requests through the
    alias. Their errors reach the alarms through Lambda's metrics, as in AWS."""
    lam = boto3.client("lambda", region_name=region)
    for _ in range(TRAFFIC_REQUESTS):
        lam.invoke(
            FunctionName=function_name,
            Qualifier=alias,
            Payload=json.dumps({"healthcheck": True}).encode(),
        )

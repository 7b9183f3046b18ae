"""Which IAM actions on which resources each AWS call of the pipeline needs.

One entry per operation the handlers, the traffic hook and the state machine's tasks call
(grep serverless_pipeline/handlers for client methods; tests/rehearsal/test_iam_table.py checks
that every one is here and that each action and resource type is the Service Authorization
Reference's). An operation not in the table is refused loudly: a new call must be mapped before
it can be rehearsed, or the rehearsal would pass what AWS refuses.

Some calls need more than their own action, because the service acts with the caller's
permissions on other resources too; the table lists those requests after the call's own:

- S3 objects in a bucket encrypted with SSE-KMS: GetObject needs kms:Decrypt and PutObject
  kms:GenerateDataKey on the bucket's key, with kms:ViaService s3.<region>.amazonaws.com (S3 User
  Guide, "Using server-side encryption with AWS KMS keys": "Permissions"). HeadObject reads only
  metadata and uses no key.
- S3 GetObject/HeadObject of a key that does not exist answers 404 only to a caller allowed
  s3:ListBucket on the bucket, else 403 AccessDenied (S3 API Reference, GetObject, "Permissions").
- SNS Publish to a topic encrypted with a KMS key needs kms:GenerateDataKey and kms:Decrypt on the
  key (SNS Developer Guide, "Setting up AWS KMS permissions": publishers), with kms:ViaService
  sns.<region>.amazonaws.com.
- CodeDeploy CreateDeployment also needs codedeploy:GetDeploymentConfig on the group's
  deployment configuration and codedeploy:GetApplicationRevision or RegisterApplicationRevision
  on the application (CodeDeploy User Guide, "CodeDeploy permissions reference", note 1).

Where the Service Authorization Reference lists no resource type for an action, the table says
which resource it evaluates the action against, and why, at the entry (DOCUMENTED_RESOURCES).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from moto.codedeploy.models import codedeploy_backends
from moto.s3.models import s3_backends
from moto.stepfunctions.responses import get_backend as stepfunctions_backend

from .iam_policies import PARTITION

SECURE_TRANSPORT = {"aws:securetransport": "true"}
"""boto3 calls AWS over HTTPS: every request carries aws:SecureTransport true."""


@dataclass(frozen=True)
class Request:
    """One authorization AWS makes for a call: an action on a resource, in a context."""

    action: str
    resource: str
    context: Mapping[str, str]


@dataclass(frozen=True)
class Call:
    """A call as the table reads it: its parameters, where it acts, and the keys that encrypt
    the stack's buckets and topics (resource ARN -> key ARN)."""

    params: Mapping[str, Any]
    account: str
    region: str
    keys: Mapping[str, str]

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{PARTITION}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )


Requests = Callable[[Call], list[Request]]


def _request(action: str, resource: str, **context: str) -> Request:
    return Request(
        action, resource, {**SECURE_TRANSPORT, **{k.lower(): v for k, v in context.items()}}
    )


def _via(service: str, call: Call) -> dict[str, str]:
    return {"kms:ViaService": f"{service}.{call.region}.amazonaws.com"}


# S3 ----------------------------------------------------------------------------------------


def _object_exists(bucket: str, key: str) -> bool:
    for backends in s3_backends.values():
        backend = backends[PARTITION]
        if bucket in backend.buckets:
            return key in backend.buckets[bucket].keys
    return False


def _s3_read(call: Call, *, decrypts: bool) -> list[Request]:
    bucket, key = call.params["Bucket"], call.params["Key"]
    bucket_arn = f"arn:{PARTITION}:s3:::{bucket}"
    action = "s3:GetObjectVersion" if call.params.get("VersionId") else "s3:GetObject"
    requests = [_request(action, f"{bucket_arn}/{key}")]
    if not _object_exists(bucket, key):
        requests.append(_request("s3:ListBucket", bucket_arn))
    elif decrypts and bucket_arn in call.keys:
        requests.append(_request("kms:Decrypt", call.keys[bucket_arn], **_via("s3", call)))
    return requests


def _s3_put(call: Call) -> list[Request]:
    bucket_arn = f"arn:{PARTITION}:s3:::{call.params['Bucket']}"
    requests = [_request("s3:PutObject", f"{bucket_arn}/{call.params['Key']}")]
    if bucket_arn in call.keys:
        requests.append(_request("kms:GenerateDataKey", call.keys[bucket_arn], **_via("s3", call)))
    return requests


# Lambda ------------------------------------------------------------------------------------


def _function(call: Call, *, qualified: bool) -> str:
    """The function's ARN from FunctionName (a name, name:qualifier, a partial or a full ARN),
    with its qualifier (or Qualifier's) where the action is evaluated on a qualified ARN."""
    name = str(call.params["FunctionName"])
    parts = name.split(":")
    account, region = call.account, call.region
    if name.startswith("arn:"):
        region, account, parts = parts[3], parts[4], parts[6:]
    elif len(parts) >= 3 and parts[1] == "function":
        account, parts = parts[0], parts[2:]
    function, qualifier = parts[0], (parts[1] if len(parts) > 1 else None)
    qualifier = call.params.get("Qualifier") or qualifier
    arn = f"arn:{PARTITION}:lambda:{region}:{account}:function:{function}"
    return f"{arn}:{qualifier}" if qualified and qualifier else arn


def _lambda(action: str, *, qualified: bool) -> Requests:
    return lambda call: [_request(action, _function(call, qualified=qualified))]


def _layer(call: Call, *, version: bool) -> str:
    name = str(call.params["LayerName"])
    base = name if name.startswith("arn:") else call.arn("lambda", f"layer:{name}")
    return f"{base}:{call.params['VersionNumber']}" if version else base


# CodeDeploy --------------------------------------------------------------------------------


def _group(call: Call, application: str, group: str) -> str:
    return call.arn("codedeploy", f"deploymentgroup:{application}/{group}")


def _deployment_group(call: Call) -> str:
    """The deployment group of the deployment a call names: what CodeDeploy evaluates actions on
    a deployment against (CodeDeploy User Guide, "CodeDeploy permissions reference")."""
    deployment = codedeploy_backends[call.account][call.region].deployments.get(
        call.params["deploymentId"]
    )
    if deployment is None:  # CodeDeploy answers DeploymentDoesNotExistException after auth
        return _group(call, "*", "*")
    return _group(call, deployment.application_name, deployment.deployment_group_name)


def _create_deployment(call: Call) -> list[Request]:
    application, group = call.params["applicationName"], call.params["deploymentGroupName"]
    backend = codedeploy_backends[call.account][call.region]
    config = call.params.get("deploymentConfigName") or (
        backend.deployment_groups[application][group].deployment_config_name
    )
    application_arn = call.arn("codedeploy", f"application:{application}")
    return [
        _request("codedeploy:CreateDeployment", _group(call, application, group)),
        _request(
            "codedeploy:GetDeploymentConfig", call.arn("codedeploy", f"deploymentconfig:{config}")
        ),
        # "GetApplicationRevision or RegisterApplicationRevision": the AppSpec content is a new
        # revision, registered with the application.
        _request("codedeploy:RegisterApplicationRevision", application_arn),
    ]


def _on_deployment(action: str) -> Requests:
    return lambda call: [_request(action, _deployment_group(call))]


# CloudWatch, SSM, SNS, STS, Step Functions, ECR --------------------------------------------


def _alarms(call: Call) -> list[Request]:
    names = call.params.get("AlarmNames") or [f"{call.params.get('AlarmNamePrefix', '')}*"]
    return [
        _request("cloudwatch:DescribeAlarms", call.arn("cloudwatch", f"alarm:{n}")) for n in names
    ]


def _alarm_history(call: Call) -> list[Request]:
    name = call.params.get("AlarmName", "*")
    return [_request("cloudwatch:DescribeAlarmHistory", call.arn("cloudwatch", f"alarm:{name}"))]


def _parameter(call: Call) -> list[Request]:
    name = str(call.params["Name"])
    arn = name if name.startswith("arn:") else call.arn("ssm", f"parameter/{name.lstrip('/')}")
    return [_request("ssm:GetParameter", arn)]


def _calendars(call: Call) -> list[Request]:
    return [
        _request(
            "ssm:GetCalendarState",
            name if name.startswith("arn:") else call.arn("ssm", f"document/{name}"),
        )
        for name in call.params["CalendarNames"]
    ]


def _publish(call: Call) -> list[Request]:
    topic = str(call.params["TopicArn"])
    requests = [_request("sns:Publish", topic)]
    if topic in call.keys:
        requests += [
            _request(action, call.keys[topic], **_via("sns", call))
            for action in ("kms:GenerateDataKey", "kms:Decrypt")
        ]
    return requests


def _token_state_machine(call: Call) -> str:
    """The state machine whose execution issued a task token. The Service Authorization
    Reference lists no resource type for states:SendTaskSuccess/SendTaskFailure; aws-cdk's
    StateMachine.grantTaskResponse (aws-stepfunctions) grants them on the state machine's ARN,
    and so does the stack (DeploymentStateMachine.grant_task_response): the rehearsal evaluates
    them against the machine that issued the token, the one state machine of the account and
    region. Should AWS evaluate them on "*", that scoped grant would not match, and the
    rehearsal would not show it."""
    machines = stepfunctions_backend(call.account, call.region).state_machines
    if len(machines) != 1:
        raise LookupError(f"{len(machines)} state machines: which issued the token is unknown")
    return str(machines[0].arn)


def _execution(action: str) -> Requests:
    return lambda call: [_request(action, str(call.params["executionArn"]))]


def _repository(action: str) -> Requests:
    def requests(call: Call) -> list[Request]:
        account = call.params.get("registryId") or call.account
        name = call.params["repositoryName"]
        return [_request(action, f"arn:{PARTITION}:ecr:{call.region}:{account}:repository/{name}")]

    return requests


OPERATIONS: dict[tuple[str, str], Requests] = {
    ("s3", "GetObject"): lambda call: _s3_read(call, decrypts=True),
    ("s3", "HeadObject"): lambda call: _s3_read(call, decrypts=False),
    ("s3", "PutObject"): _s3_put,
    ("lambda", "GetAlias"): _lambda("lambda:GetAlias", qualified=False),
    ("lambda", "UpdateAlias"): _lambda("lambda:UpdateAlias", qualified=False),
    ("lambda", "GetFunction"): _lambda("lambda:GetFunction", qualified=True),
    ("lambda", "GetFunctionConfiguration"): _lambda(
        "lambda:GetFunctionConfiguration", qualified=True
    ),
    ("lambda", "Invoke"): _lambda("lambda:InvokeFunction", qualified=True),
    ("lambda", "DeleteFunction"): _lambda("lambda:DeleteFunction", qualified=True),
    ("lambda", "PublishVersion"): _lambda("lambda:PublishVersion", qualified=False),
    ("lambda", "UpdateFunctionCode"): _lambda("lambda:UpdateFunctionCode", qualified=False),
    ("lambda", "UpdateFunctionConfiguration"): _lambda(
        "lambda:UpdateFunctionConfiguration", qualified=False
    ),
    # ListLayerVersions has no resource type (Service Authorization Reference): "*".
    ("lambda", "ListLayerVersions"): lambda call: [_request("lambda:ListLayerVersions", "*")],
    ("lambda", "PublishLayerVersion"): lambda call: [
        _request("lambda:PublishLayerVersion", _layer(call, version=False))
    ],
    ("lambda", "DeleteLayerVersion"): lambda call: [
        _request("lambda:DeleteLayerVersion", _layer(call, version=True))
    ],
    ("codedeploy", "CreateDeployment"): _create_deployment,
    ("codedeploy", "GetDeployment"): _on_deployment("codedeploy:GetDeployment"),
    ("codedeploy", "ListDeployments"): lambda call: [
        _request(
            "codedeploy:ListDeployments",
            _group(call, call.params["applicationName"], call.params["deploymentGroupName"]),
        )
    ],
    # No resource type in the Service Authorization Reference; the CodeDeploy User Guide's
    # "CodeDeploy permissions reference" gives the deployment group's ARN for both
    # (arn:aws:codedeploy:region:account-id:deploymentgroup:application-name/group-name), and
    # the stack grants them there. The two disagree (awsdocs/aws-codedeploy-user-guide#18 says
    # the IAM console offers no resource for StopDeployment): should AWS evaluate these actions
    # on "*", the stack's scoped grants would not match, and the rehearsal would not show it.
    ("codedeploy", "StopDeployment"): _on_deployment("codedeploy:StopDeployment"),
    ("codedeploy", "PutLifecycleEventHookExecutionStatus"): _on_deployment(
        "codedeploy:PutLifecycleEventHookExecutionStatus"
    ),
    ("cloudwatch", "DescribeAlarms"): _alarms,
    ("cloudwatch", "DescribeAlarmHistory"): _alarm_history,
    ("ssm", "GetParameter"): _parameter,
    ("ssm", "GetCalendarState"): _calendars,
    ("sns", "Publish"): _publish,
    ("sts", "AssumeRole"): lambda call: [_request("sts:AssumeRole", str(call.params["RoleArn"]))],
    ("stepfunctions", "DescribeExecution"): _execution("states:DescribeExecution"),
    ("stepfunctions", "GetExecutionHistory"): _execution("states:GetExecutionHistory"),
    ("stepfunctions", "SendTaskSuccess"): lambda call: [
        _request("states:SendTaskSuccess", _token_state_machine(call))
    ],
    ("stepfunctions", "SendTaskFailure"): lambda call: [
        _request("states:SendTaskFailure", _token_state_machine(call))
    ],
    ("ecr", "DescribeImages"): _repository("ecr:DescribeImages"),
    ("ecr", "DescribeImageScanFindings"): _repository("ecr:DescribeImageScanFindings"),
}

DOCUMENTED_RESOURCES = {
    "codedeploy:StopDeployment": "CodeDeploy User Guide, CodeDeploy permissions reference",
    "codedeploy:PutLifecycleEventHookExecutionStatus": (
        "CodeDeploy User Guide, CodeDeploy permissions reference"
    ),
    "states:SendTaskSuccess": "aws-cdk StateMachine.grantTaskResponse (see _token_state_machine)",
    "states:SendTaskFailure": "aws-cdk StateMachine.grantTaskResponse (see _token_state_machine)",
}
"""Actions the Service Authorization Reference lists without a resource type, which the table
evaluates against a resource anyway, with where that comes from."""

# What AWS answers a call that IAM refuses, by service: (error code, HTTP status). Query and
# REST-XML services answer AccessDenied (SNS: AuthorizationError), JSON services
# AccessDeniedException; Lambda's is a 403, the other JSON services' a 400.
DENIALS: dict[str, tuple[str, int]] = {
    "s3": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "cloudwatch": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
}
DEFAULT_DENIAL = ("AccessDeniedException", 400)


def requests_of(service: str, operation: str, call: Call) -> list[Request]:
    """The authorizations a call needs; KeyError for an operation the table does not map."""
    return OPERATIONS[(service, operation)](call)

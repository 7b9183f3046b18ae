"""The stack's IAM policies enforced on the pipeline's own AWS calls in the emulator.

Every call a pipeline handler, the traffic hook or the state machine's tasks make is authorized
as AWS would authorize it: the calling role's policies from the synthesized stack
(iam_policies), for the actions and resources the call needs (iam_actions). A refused call
gets what that service answers (AccessDenied 403 from S3, AccessDeniedException from JSON
services, ...), and the refusal is recorded, so that the rehearsal stops and names the role, the
action and the resource (`PermissionDenied`) instead of passing a release that AWS would fail.

Why not moto's own enforcement (`set_initial_no_auth_action_count`): measured with moto 5.2.5,
it authorizes a request against "*" except for the few services that name the request's
resource (S3, SQS, IAM and STS define `_determine_resource`), so a statement scoped to an ARN
never matches elsewhere (ssm:GetParameter allowed on one parameter's ARN was refused for that
very parameter); it fills no condition keys from the request, so an SNS Publish was
allowed by a statement whose aws:SourceAccount condition could not hold; and Lambda calls signed
with an IAM user's keys failed its signature check (SignatureDoesNotMatch) before any policy was
read. The handlers of one account also sign with one set of keys, so it cannot tell them apart.

Which role calls: botocore's `before-call` event carries the request signer, whose keys say
whether the call acts through an assumed role (a deployment role in another account: moto's STS
knows whose keys they are) or is the state machine's (moto's Step Functions interpreter signs
with its own fixed keys); otherwise it is the role of the function whose code runs on this
thread (emulator/accounts.py). Calls the emulator makes while serving a call (Lambda's metrics,
CodeDeploy invoking a hook, moto invoking a function) are nested inside that call on the same
thread and are the emulator's: they are not authorized. Roles the stack does not enforce (the
application's own functions, the emulator's operator) pass unchecked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore import handlers
from botocore.awsrequest import AWSResponse
from moto.sts.models import sts_backends

from .accounts import running_function_role
from .iam_actions import DEFAULT_DENIAL, DENIALS, Call, Request, requests_of
from .iam_policies import PARTITION, StackPolicies

# The keys moto's Step Functions interpreter signs its service integrations' calls with
# (moto/stepfunctions/parser/asl/utils/boto_client.py): those calls are the state machine's.
STATE_MACHINE_KEY = "ak"
_PARAMS = "serverless_pipeline.iam.params"
_COUNTED = "serverless_pipeline.iam.counted"


@dataclass(frozen=True)
class Denial:
    """A call IAM refused: who made it, what it needed, and what AWS answered."""

    role: str
    service: str
    operation: str
    action: str
    resource: str
    function: str | None
    error: str
    status: int
    explicit: bool

    def describe(self) -> str:
        caller = f" (function {self.function})" if self.function else ""
        why = "an explicit Deny refuses it" if self.explicit else "no statement allows it"
        return (
            f"role {self.role}{caller} may not {self.action} on {self.resource}: {why}; its "
            f"{self.service} {self.operation} call gets {self.error} ({self.status}) on AWS"
        )


class PermissionDenied(RuntimeError):
    """The stack's IAM policies refuse a call the pipeline makes: on AWS this release fails."""

    def __init__(self, denials: list[Denial]) -> None:
        self.denials = denials
        listed = "; ".join(dict.fromkeys(d.describe() for d in denials))
        super().__init__(f"the stack's IAM policies refuse a call the pipeline makes: {listed}")


class UnmappedCall(RuntimeError):
    """A call whose IAM actions the rehearsal does not know (emulator/iam_actions.py)."""


@dataclass
class Enforcement:
    """The policies in force, and every call they refused or could not judge."""

    policies: StackPolicies
    denials: list[Denial] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    _keys: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self) -> None:
        """Raise what went wrong so far: a refused call, or one the table does not map."""
        if self.unmapped:
            raise UnmappedCall(
                f"no IAM actions known for {', '.join(dict.fromkeys(self.unmapped))}; map them "
                "in serverless_pipeline/emulator/iam_actions.py"
            )
        if self.denials:
            raise PermissionDenied(list(self.denials))

    def assumed_role(self, access_key: str) -> str | None:
        """The role whose session the keys belong to (None: not an assumed role's). Sessions
        are assumed as the rehearsal goes: only what was found is remembered."""
        if access_key not in self._keys:
            found = next(
                (
                    role.role_arn
                    for backends in list(sts_backends.values())
                    for role in backends[PARTITION].assumed_roles
                    if role.access_key_id == access_key
                ),
                None,
            )
            if found is None:
                return None
            self._keys[access_key] = found
        return self._keys[access_key]

    def caller(self, request_signer: Any) -> str | None:
        """The enforced role a call is made as, or None."""
        credentials = getattr(request_signer, "_credentials", None)
        key = getattr(credentials, "access_key", None) if credentials else None
        if key == STATE_MACHINE_KEY:
            return self.policies.state_machine_role
        if key is not None:
            assumed = self.assumed_role(key)
            if assumed is not None:
                return assumed if assumed in self.policies.roles else None
        role = running_function_role()
        return role if role in self.policies.roles else None

    def authorize(
        self, role: str, service: str, operation: str, params: Any, region: str
    ) -> Denial | None:
        """The first refusal among the authorizations the call needs, recorded; None when IAM
        allows them all."""
        policies = self.policies.roles[role]
        call = Call(params or {}, role.split(":")[4], region, self.policies.encryption_keys)
        try:
            requests: list[Request] = requests_of(service, operation, call)
        except KeyError:
            with self._lock:
                self.unmapped.append(f"{service}:{operation} (as {role})")
            raise UnmappedCall(f"no IAM actions known for {service}:{operation}") from None
        for request in requests:
            decision = policies.decide(request.action, request.resource, request.context)
            if decision.allowed:
                continue
            error, status = DENIALS.get(service, DEFAULT_DENIAL)
            if (service, operation) == ("s3", "HeadObject"):
                error = "403"  # a HEAD response has no body: botocore names the error by status
            denial = Denial(
                role=role,
                service=service,
                operation=operation,
                action=request.action,
                resource=request.resource,
                function=threading.current_thread().name if running_function_role() else None,
                error=error,
                status=status,
                explicit=decision.explicit_deny,
            )
            with self._lock:
                self.denials.append(denial)
            return denial
        return None


_ACTIVE: list[Enforcement] = []
_THREAD = threading.local()


def _depth() -> int:
    return getattr(_THREAD, "depth", 0)


def _remember_params(params: Any, context: dict[str, Any], **_: Any) -> None:
    """The call's parameters as the caller gave them (before-call sees only the serialized
    request)."""
    if _ACTIVE:
        context[_PARAMS] = params


def _before_call(
    model: Any, request_signer: Any, context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    if not _ACTIVE:
        return None
    enforcement = _ACTIVE[-1]
    nested = _depth() > 0
    role = None if nested else enforcement.caller(request_signer)
    denial: Denial | None = None
    if role is not None:
        denial = enforcement.authorize(
            role,
            model.service_model.service_name,
            model.name,
            context.get(_PARAMS),
            context["client_region"],
        )
    # botocore emits after-call for this call whatever happens next (also when a refusal
    # answers it here): the calls made until then on this thread are nested in it.
    _THREAD.depth = _depth() + 1
    context[_COUNTED] = True
    if role is None or denial is None:
        return None
    arn = f"arn:{PARTITION}:sts::{role.split(':')[4]}:assumed-role/{role.rsplit('/', 1)[-1]}"
    message = (
        f"User: {arn}/{denial.function or 'session'} is not authorized to perform: "
        f"{denial.action} on resource: {denial.resource} because "
        + (
            "of an explicit deny in an identity-based policy"
            if denial.explicit
            else "no identity-based policy allows the " + f"{denial.action} action"
        )
    )
    parsed = {
        "Error": {"Code": denial.error, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": denial.status, "HTTPHeaders": {}},
    }
    return AWSResponse("", denial.status, {}, None), parsed


def _after_call(context: dict[str, Any], **_: Any) -> None:
    if context.pop(_COUNTED, False):
        _THREAD.depth = max(0, _depth() - 1)


_HANDLERS = (
    ("before-parameter-build", _remember_params),
    ("before-call", _before_call),
    ("after-call", _after_call),
    ("after-call-error", _after_call),
)


@contextmanager
def enforced(policies: StackPolicies) -> Iterator[Enforcement]:
    """Within this block the pipeline's calls are authorized against `policies`. Sessions made
    inside it get the handlers from botocore's built-in list; the default session, made
    before, gets them registered. A client copies its session's handlers when it is made, so
    a client made before the block is not watched: the handlers make theirs inside it (their
    modules load anew in each rehearsal), as the state machine does for each task."""
    enforcement = Enforcement(policies)
    registered = [h for h in _HANDLERS if h not in handlers.BUILTIN_HANDLERS]
    handlers.BUILTIN_HANDLERS.extend(registered)
    default = boto3.DEFAULT_SESSION
    if default is not None:
        for event, handler in _HANDLERS:
            default.events.register(event, handler)
    _ACTIVE.append(enforcement)
    try:
        yield enforcement
    finally:
        _ACTIVE.remove(enforcement)
        for item in registered:
            handlers.BUILTIN_HANDLERS.remove(item)
        if default is not None:
            for event, handler in _HANDLERS:
                default.events.unregister(event, handler)

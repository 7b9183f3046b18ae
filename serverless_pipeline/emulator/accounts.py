"""Several AWS accounts and regions in one moto mock, and the one door between them.

moto keeps a backend per account and region, and a request lands in the account its credentials
belong to: the keys of an STS session belong to the account of the role it assumed. The
emulator's own work in an account (laying it out, CodeDeploy invoking a hook there, Lambda's
metrics) goes through an operator session per account, made before any handler runs.

A handler reaches another account the way it does in AWS: it assumes a role there. Here, as
there, the role must exist in that account and its trust policy must name the role of the
function that asks; otherwise STS refuses with AccessDenied.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend

from ..handlers.clients import client

OPERATOR_ROLE = "rehearsal-operator"
_operators: dict[str, boto3.Session] = {}
# The role of the function whose code runs on this thread (set by the Lambda runtime).
CALLER = threading.local()


def running_function_role() -> str | None:
    """The execution role of the function running on this thread; None outside functions."""
    return getattr(CALLER, "role", None)


def forget_operators() -> None:
    """A new mock is a new set of accounts: sessions of an earlier one mean nothing there."""
    _operators.clear()


def operator(account_id: str) -> boto3.Session | None:
    """The emulator's session in `account_id` (None: the default account's own keys)."""
    if account_id == DEFAULT_ACCOUNT_ID:
        return None
    if account_id not in _operators:
        answer = client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/{OPERATOR_ROLE}", RoleSessionName="emulator"
        )["Credentials"]
        _operators[account_id] = boto3.Session(
            aws_access_key_id=answer["AccessKeyId"],
            aws_secret_access_key=answer["SecretAccessKey"],
            aws_session_token=answer["SessionToken"],
        )
    return _operators[account_id]


@contextmanager
def acting_in(account_id: str) -> Iterator[None]:
    """Within this block boto3's default session acts in `account_id`, as a function's own
    credentials do in Lambda: a function of another account that makes its clients with
    boto3.client(...) makes them there. Invocations run one chain at a time, and the session
    of the caller comes back when the block ends."""
    session = operator(account_id)
    if session is None:
        yield
        return
    saved = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = session
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = saved


def account_client(service: str, account_id: str, region: str) -> Any:
    """A client of the emulator acting in `account_id` and `region`."""
    session = operator(account_id)
    if session is None:
        return client(service, region)
    return session.client(service, region_name=region)


def _trusted(document: Any) -> set[str]:
    """The AWS principals an IAM trust policy lets assume the role."""
    policy = json.loads(document) if isinstance(document, str) else document
    principals: set[str] = set()
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or "sts:AssumeRole" not in actions:
            continue
        named = statement.get("Principal", {}).get("AWS", [])
        principals.update([named] if isinstance(named, str) else named)
    return principals


@contextmanager
def trusted_roles_only() -> Iterator[None]:
    """Within this block a function's sts:AssumeRole succeeds only into an existing role
    whose trust policy names the function's own role."""
    original = STSBackend.assume_role

    def assume_role(backend: STSBackend, **kwargs: Any) -> Any:
        caller = running_function_role()
        if caller is not None:
            role_arn = kwargs["role_arn"]
            account = role_arn.split(":")[4]
            try:
                role = iam_backends[account]["global"].get_role_by_arn(role_arn)
            except Exception:
                role = None
            if role is None or caller not in _trusted(role.assume_role_policy_document):
                raise STSClientError(
                    "AccessDenied",
                    f"User: {caller} is not authorized to perform: sts:AssumeRole on "
                    f"resource: {role_arn}",
                )
        return original(backend, **kwargs)

    # moto lets any account's keys reach any bucket unless told otherwise; S3 refuses them.
    with (
        mock.patch.object(STSBackend, "assume_role", assume_role),
        mock.patch.dict(os.environ, {"MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS": "false"}),
    ):
        try:
            yield
        finally:
            forget_operators()

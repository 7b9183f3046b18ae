"""AWS clients, made once per execution environment and reused by its warm invocations.

Lambda's guidance: initialize SDK clients outside the handler, so that an invocation of a warm
environment does not pay for creating them again (tens of milliseconds each). A client is made
on first use, not at import, so that nothing talks to AWS before a handler runs.

An environment in another account or region is reached only through its deployment role: its
clients act in a session of that role named for the execution (CloudTrail in that account
shows which release did what), and are never shared with another role or execution.
"""

from __future__ import annotations

import functools
import re
import time
from typing import Any, Protocol

import boto3

# Assumed credentials last an hour; they are renewed when less than a handler's longest run (15
# minutes) is left, so no call starts on credentials that expire under it.
SESSION_SECONDS = 3600
RENEW_SECONDS = 900
# STS: RoleSessionName is 2-64 characters of [\w+=,.@-].
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")


class Placed(Protocol):
    """An environment as the handlers' settings describe it."""

    @property
    def role(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...


@functools.cache
def client(service: str, region: str | None = None) -> Any:
    """The environment's client for `service` (in its own region unless one is named)."""
    return boto3.client(service, region_name=region)


# (role, execution) -> (session, when its credentials expire); (role, execution, service) ->
# client of that session.
_sessions: dict[tuple[str, str], tuple[boto3.Session, float]] = {}
_clients: dict[tuple[str, str, str], Any] = {}


def session_name(execution: str) -> str:
    """The execution's name as an STS session name."""
    return _SESSION_NAME.sub("-", execution)[:64].ljust(2, "-")


def in_environment(service: str, environment: Placed, execution: str) -> Any:
    """The client for `service` in an environment: the handler's own where the environment
    is in the pipeline's account and region, else one acting through its deployment role."""
    session = environment_session(environment, execution)
    if session is None or environment.role is None:
        return client(service)
    key = (environment.role, execution, service)
    made = _clients.get(key)
    if made is None:
        made = _clients[key] = session.client(service)
    return made


def environment_session(environment: Placed, execution: str) -> boto3.Session | None:
    """The deployment role's session for this execution (None for an environment in the
    pipeline's account and region), assumed again when its credentials run short."""
    if environment.role is None:
        return None
    now = time.time()
    key = (environment.role, execution)
    cached = _sessions.get(key)
    if cached is None or cached[1] - now < RENEW_SECONDS:
        for stale in [k for k, (_, expires) in _sessions.items() if expires - now < RENEW_SECONDS]:
            del _sessions[stale]
            for client_key in [c for c in _clients if c[:2] == stale]:
                del _clients[client_key]
        cached = _sessions[key] = _assume(environment.role, execution, environment.region)
    return cached[0]


def _assume(role: str, execution: str, region: str | None) -> tuple[boto3.Session, float]:
    answer = client("sts").assume_role(
        RoleArn=role, RoleSessionName=session_name(execution), DurationSeconds=SESSION_SECONDS
    )
    credentials = answer["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region or boto3.Session().region_name,
    )
    return session, credentials["Expiration"].timestamp()

"""Clients for an environment elsewhere: through its deployment role, one session per execution,
renewed before its credentials run short."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
from moto import mock_aws
from moto.sts.models import sts_backends

from serverless_pipeline.handlers import clients
from serverless_pipeline.handlers.settings import Environment

PRODUCTION = "222222222222"
ROLE = f"arn:aws:iam::{PRODUCTION}:role/orders-production-deployment"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    clients.client.cache_clear()
    clients._sessions.clear()
    clients._clients.clear()
    with mock_aws():
        yield
    clients.client.cache_clear()
    clients._sessions.clear()
    clients._clients.clear()


def production(role: str | None = ROLE) -> Environment:
    return Environment("production", "orders-production", (), role, "eu-central-1")


def sessions() -> list[tuple[str, str]]:
    return [(r.role_arn, r.session_name) for r in sts_backends[PRODUCTION]["aws"].assumed_roles]


def test_an_environment_at_home_uses_the_handlers_own_client(aws: None) -> None:
    assert clients.in_environment("s3", production(role=None), "exec-1") is clients.client("s3")
    assert sessions() == []


def test_an_environment_elsewhere_acts_in_its_account_and_region(aws: None) -> None:
    s3 = clients.in_environment("s3", production(), "exec-1")
    assert s3.meta.region_name == "eu-central-1"
    # The STS identity of the client is the deployment role's session, in production's account.
    sts = clients.environment_session(production(), "exec-1")
    assert sts is not None
    identity = sts.client("sts").get_caller_identity()
    assert identity["Account"] == PRODUCTION
    assert identity["Arn"].endswith("assumed-role/orders-production-deployment/exec-1")


def test_one_session_per_execution_never_shared(aws: None) -> None:
    first = clients.in_environment("lambda", production(), "exec-1")
    assert clients.in_environment("lambda", production(), "exec-1") is first
    other = clients.in_environment("lambda", production(), "exec-2")
    assert other is not first
    assert sessions() == [(ROLE, "exec-1"), (ROLE, "exec-2")]


def test_a_session_is_assumed_again_before_its_credentials_run_short(aws: None) -> None:
    first = clients.in_environment("lambda", production(), "exec-1")
    expires = clients._sessions[(ROLE, "exec-1")][1]
    # With less than a handler's longest run left, the next client is a fresh session's.
    later = expires - clients.RENEW_SECONDS + 1
    with mock.patch("serverless_pipeline.handlers.clients.time.time", return_value=later):
        renewed = clients.in_environment("lambda", production(), "exec-1")
    assert renewed is not first
    assert len(sessions()) == 2


def test_session_names_fit_sts() -> None:
    # STS: RoleSessionName is 2-64 characters of [\w+=,.@-].
    assert clients.session_name("a") == "a-"
    assert len(clients.session_name("x" * 80)) == 64
    assert clients.session_name("release/r2 #1") == "release-r2--1"

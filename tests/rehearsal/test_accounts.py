"""The multi-account example rehearsed: staging in its own account, production in another
account and region, the handlers reaching them only through their deployment roles."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.sts.models import sts_backends

from serverless_pipeline.cli import main
from serverless_pipeline.emulator.accounts import CALLER, account_client
from serverless_pipeline.example import PRODUCTION_ACCOUNT, STAGING_ACCOUNT, multi_account_config
from serverless_pipeline.handlers import settings
from serverless_pipeline.handlers.clients import client, in_environment
from serverless_pipeline.rehearsal.account import ACCOUNT_ID, EmulatedAccount
from serverless_pipeline.rehearsal.runner import rehearse
from tests.constructs.test_accounts import hooked_config
from tests.rehearsal.test_rehearsal import RELEASE_KEYS

# Slow: left out of `make test-fast`.
pytestmark = pytest.mark.slow


def test_the_done_when_sequence_ends_on_the_last_release_everywhere(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["rehearse", "--example", "multi-account", "ok", "production-deploy", "ok", "--json"]
    )
    document = json.loads(capsys.readouterr().out)
    assert code == 1  # a release rolled back on the way
    assert document["live"] == {"staging": "r4", "production": "r4"}
    assert document["functions"] == {
        "staging": {"api": "r4", "worker": "r4", "notifier": "r4"},
        "production": {"api": "r4", "worker": "r4", "notifier": "r4"},
    }
    failed = document["releases"][1]
    assert (failed["failed_state"], failed["error"]) == (
        "CheckProductionDeployment",
        "DeploymentFailed",
    )
    # The single-account contract, key for key.
    assert set(document) == {"started_at", "releases", "live", "functions"}
    assert set(failed) == RELEASE_KEYS
    assert failed["rollback"] == {
        "production": {"api": "already_restored", "worker": "restored", "notifier": "restored"},
        "staging": {"api": "restored", "worker": "restored", "notifier": "restored"},
    }


def test_handlers_reach_other_accounts_only_through_the_deployment_role() -> None:
    seen: dict[str, Any] = {}

    def inspect(account: EmulatedAccount) -> None:
        # Every session in production's account is the deployment role's, named for an
        # execution.
        sessions = sts_backends[PRODUCTION_ACCOUNT]["aws"].assumed_roles
        seen["sessions"] = {(s.role_arn, s.session_name) for s in sessions}
        seen["staging"] = {s.role_arn for s in sts_backends[STAGING_ACCOUNT]["aws"].assumed_roles}
        seen["executions"] = {
            e["name"]
            for e in account.sfn.list_executions(stateMachineArn=account.state_machine_arn)[
                "executions"
            ]
        }
        # Production's functions exist in production's account and region only.
        pipeline = client("lambda", "eu-central-1")
        with pytest.raises(ClientError, match="ResourceNotFound"):
            pipeline.get_function(FunctionName="orders-api-production")
        production = account_client("lambda", PRODUCTION_ACCOUNT, "eu-central-1")
        assert production.get_function(FunctionName="orders-api-production")
        variables = client("lambda", "eu-west-1").get_function_configuration(
            FunctionName="orders-promote"
        )["Environment"]["Variables"]
        production_settings = settings.load(variables).environment("production")
        # With the deployment role, as the handlers act: the live alias is there.
        through_role = in_environment("lambda", production_settings, "probe")
        assert through_role.get_alias(FunctionName="orders-api-production", Name="live")
        # Without it, the call lands in the pipeline's own account: refused, nothing there.
        with pytest.raises(ClientError) as refused:
            client("lambda", "eu-central-1").get_alias(
                FunctionName="orders-api-production", Name="live"
            )
        seen["without_role"] = refused.value.response["Error"]["Code"]
        # Nor does S3 let the pipeline's own keys into production's bucket.
        with pytest.raises(ClientError) as bucket:
            client("s3", "eu-central-1").get_object(
                Bucket="orders-production-rehearsal", Key="releases/r2.zip"
            )
        seen["bucket_without_role"] = bucket.value.response["Error"]["Code"]
        # A function whose role the trust policy does not name is refused by STS.
        CALLER.role = f"arn:aws:iam::{ACCOUNT_ID}:role/orders-validate-fn"
        try:
            with pytest.raises(ClientError) as denied:
                in_environment("lambda", production_settings, "probe-untrusted")
        finally:
            CALLER.role = None
        seen["untrusted"] = denied.value.response["Error"]["Code"]

    rehearsal = rehearse(multi_account_config(), ["ok"], inspect=inspect)
    assert rehearsal.live == {"staging": "r2", "production": "r2"}
    role = f"arn:aws:iam::{PRODUCTION_ACCOUNT}:role/orders-production-deployment"
    assert seen["sessions"]
    operator = f"arn:aws:iam::{PRODUCTION_ACCOUNT}:role/rehearsal-operator"
    # Lambda's sessions of the application functions' own role, which their code acts as.
    functions = f"arn:aws:iam::{PRODUCTION_ACCOUNT}:role/rehearsal"
    handlers = {(arn, name) for arn, name in seen["sessions"] if arn not in (operator, functions)}
    assert {arn for arn, _ in handlers} == {role}
    # Named for the execution (CloudTrail there says which release acted).
    assert {name for _, name in handlers} <= seen["executions"]
    # The emulator's own operator session (laying the account out) is the only other one.
    assert {name for arn, name in seen["sessions"] if arn == operator} == {"emulator"}
    assert seen["without_role"] == "ResourceNotFoundException"
    assert seen["bucket_without_role"] == "AccessDenied"
    assert seen["untrusted"] == "AccessDenied"
    # Staging's account sees its own deployment role (and the emulator's operator and its
    # functions' role) only.
    assert seen["staging"] == {
        f"arn:aws:iam::{STAGING_ACCOUNT}:role/orders-staging-deployment",
        f"arn:aws:iam::{STAGING_ACCOUNT}:role/rehearsal-operator",
        f"arn:aws:iam::{STAGING_ACCOUNT}:role/rehearsal",
    }


def test_the_librarys_hook_runs_where_the_environment_lives() -> None:
    rehearsal = rehearse(hooked_config(), ["ok", "production-deploy", "ok"])
    outcomes = [(r.outcome, r.failed_state) for r in rehearsal.releases]
    assert outcomes == [
        ("promoted", None),
        ("rolled_back", "CheckProductionDeployment"),
        ("promoted", None),
    ]
    assert rehearsal.live == {"staging": "r4", "production": "r4"}

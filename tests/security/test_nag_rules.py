"""cdk-nag AwsSolutions/Serverless rules that checkov lacks, asserted on every resource of both
the example stack and the stack with every option on."""

from __future__ import annotations

from typing import Any

import pytest

from serverless_pipeline import defaults
from serverless_pipeline.example import example_config
from serverless_pipeline.handlers import runtimes
from tests.conftest import referenced_statements, resources, synth_config
from tests.security.full_config import full_config


@pytest.fixture(scope="module", params=["example", "full"])
def stack(request: pytest.FixtureRequest) -> dict[str, Any]:
    return synth_config(example_config() if request.param == "example" else full_config())


def test_every_state_machine_logs_all_events_and_traces(stack: dict[str, Any]) -> None:
    for machine in resources(stack, "aws_sfn_state_machine").values():
        assert machine["logging_configuration"]["level"] == "ALL"
        assert machine["logging_configuration"]["include_execution_data"] is True
        assert machine["tracing_configuration"] == {"enabled": True}


def test_every_function_traces_and_handlers_run_the_latest_runtime(stack: dict[str, Any]) -> None:
    for function in resources(stack, "aws_lambda_function").values():
        # Application functions may run any runtime Lambda has not deprecated.
        assert function["runtime"] in runtimes.RUNTIMES
        if function["function_name"].endswith("-candidate"):
            # Runs release code that is not trusted yet: its role may only write its logs, so
            # it has no X-Ray permission to trace with.
            assert function["tracing_config"] == {"mode": "PassThrough"}
            continue
        assert function["tracing_config"] == {"mode": "Active"}
        if function["handler"].startswith("handlers."):
            assert function["runtime"] == defaults.SUPPORTED_RUNTIMES[-1]


def test_every_log_group_is_encrypted_and_expires(stack: dict[str, Any]) -> None:
    groups = resources(stack, "aws_cloudwatch_log_group").values()
    # one per function, the state machine's and the build's
    assert len(groups) == len(resources(stack, "aws_lambda_function")) + 2
    for group in groups:
        assert group["kms_key_id"].startswith("${aws_kms_key.")
        assert group["retention_in_days"] in defaults.LOG_RETENTION_CHOICES


def test_every_bucket_policy_is_tls_only(stack: dict[str, Any]) -> None:
    buckets = resources(stack, "aws_s3_bucket")
    policies = resources(stack, "aws_s3_bucket_policy").values()
    assert len(policies) == len(buckets)
    for policy in policies:
        statements = referenced_statements(stack, policy["policy"])
        deny = next(s for s in statements if s["sid"] == "DenyInsecureTransport")
        assert deny["effect"] == "Deny" and deny["principals"][0]["identifiers"] == ["*"]

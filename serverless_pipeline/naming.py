"""The physical names the pipeline gives its resources, in one place.

Constructs and the rehearsal both derive names from here, so the rehearsed account is laid out
exactly as the synthesized stack would lay out a real one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

# The environments a release goes through, in order.
ENVIRONMENTS = ("staging", "production")
# The handlers the state machine invokes (the traffic hook is CodeDeploy's, not listed).
HANDLER_NAMES = ("validate", "run_tests", "promote", "rollback", "approval")


def handler_function(prefix: str, handler: str) -> str:
    """<prefix>-validate, <prefix>-run-tests, <prefix>-promote, <prefix>-rollback."""
    return f"{prefix}-{handler.replace('_', '-')}"


def candidate_function(prefix: str) -> str:
    """The function that runs a candidate release's test cases for run_tests."""
    return f"{prefix}-candidate"


def app_function(application: str, environment: str) -> str:
    return f"{application}-{environment}"


def deployment_group(application: str, environment: str) -> str:
    return f"{application}-{environment}"


def state_machine(prefix: str) -> str:
    return f"{prefix}-deployment"


def notification_topic(prefix: str) -> str:
    return f"{prefix}-releases"


def handler_environment(
    *,
    artifact_bucket: str,
    app_handler: str,
    test_manifest: str,
    application: str,
    alias: str,
    buckets: Mapping[str, str],
    deployment_timeout_seconds: int,
    candidate_function: str,
    notification_topic: str,
    hooks: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """The environment variables of the handler functions (read by handlers/settings.py)."""
    environments = {
        environment: {
            "function_name": app_function(application, environment),
            "alias": alias,
            "bucket": bucket,
            "application": application,
            "deployment_group": deployment_group(application, environment),
            "hooks": dict((hooks or {}).get(environment, {})),
        }
        for environment, bucket in buckets.items()
    }
    return {
        "ARTIFACT_BUCKET": artifact_bucket,
        "APP_HANDLER": app_handler,
        "TEST_MANIFEST": test_manifest,
        "ENVIRONMENTS": json.dumps(environments, sort_keys=True),
        "DEPLOYMENT_TIMEOUT_SECONDS": str(deployment_timeout_seconds),
        "CANDIDATE_FUNCTION": candidate_function,
        "NOTIFICATION_TOPIC_ARN": notification_topic,
    }

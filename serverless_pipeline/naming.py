"""The physical names the pipeline gives its resources, in one place.

Constructs and the rehearsal both derive names from here, so the rehearsed account is laid out
exactly as the synthesized stack would lay out a real one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# The environments a release goes through, in order, unless the config names its own.
ENVIRONMENTS = ("staging", "production")
# The handlers the state machine invokes (the traffic hook is CodeDeploy's, not listed).
HANDLER_NAMES = ("validate", "run_tests", "promote", "rollback", "approval")


def handler_function(prefix: str, handler: str) -> str:
    """<prefix>-validate, <prefix>-run-tests, <prefix>-promote, <prefix>-rollback."""
    return f"{prefix}-{handler.replace('_', '-')}"


def candidate_function(prefix: str) -> str:
    """The function that runs a candidate release's test cases for run_tests."""
    return f"{prefix}-candidate"


def image_candidate_function(prefix: str) -> str:
    """The function that runs the test cases of a candidate release's image functions: a zip
    function cannot switch to an image."""
    return f"{prefix}-candidate-image"


def image_repository(prefix: str) -> str:
    """The ECR repository of the release images."""
    return f"{prefix}-images"


# Physical names of the application's functions (and of their deployment groups): the single
# form keeps its original names; the handlers get the pattern and format it the same way.
SINGLE_FUNCTION_NAMES = "{application}-{environment}"
FUNCTION_NAMES = "{application}-{function}-{environment}"


def app_function(application: str, environment: str, function: str | None = None) -> str:
    """<application>-<environment> (the single form), <application>-<function>-<environment>."""
    pattern = SINGLE_FUNCTION_NAMES if function is None else FUNCTION_NAMES
    return pattern.format(application=application, function=function, environment=environment)


def deployment_role(application: str, environment: str) -> str:
    """The role in an environment's own account that the handlers act through there."""
    return f"{application}-{environment}-deployment"


def placed_traffic_hook(library_hook: str, environment: str) -> str:
    """The library's traffic hook (`library_hook`, <prefix>-traffic-hook) in an environment's
    own account and region: CodeDeploy invokes hooks where the deployment runs."""
    return f"{library_hook}-{environment}"


def provider_alias(application: str, account_id: str | None, region: str | None) -> str:
    """The alias of Terraform's AWS provider for one account and region."""
    return "-".join(part for part in (application, account_id, region) if part)


def state_title(environment: str) -> str:
    """The environment as state names spell it: staging -> Staging, eu-prod -> EuProd."""
    return "".join(part.capitalize() for part in environment.split("-"))


def state_key(environment: str) -> str:
    """The environment as a key of the execution's data ($.environments.<key>)."""
    return environment.replace("-", "_")


def state_machine(prefix: str) -> str:
    return f"{prefix}-deployment"


def line_switch(prefix: str) -> str:
    """The SSM parameter that stops the line: "stopped" holds every release before its first
    environment, anything else lets them go."""
    return f"/{prefix}/release-line"


def notification_topic(prefix: str) -> str:
    return f"{prefix}-releases"


def handler_environment(
    *,
    artifact_bucket: str,
    test_manifest: str,
    application: Mapping[str, Any],
    deployment_timeout_seconds: int,
    candidate_function: str,
    notification_topic: str,
    images: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment variables of the handler functions (read by handlers/settings.py).
    `application`: name, alias, function_names (a pattern of SINGLE_FUNCTION_NAMES or
    FUNCTION_NAMES), functions [{name, handler, memory_mb}] and environments [{name, bucket,
    hooks, and for an environment in its own account or region: role, region}], both in order;
    claims and approvals name the pipeline's record buckets where they are not the first and
    last environment's. Names are derived, not listed, so that Lambda's 4 KB for all
    variables holds 20 functions in 10 environments."""
    return {
        "ARTIFACT_BUCKET": artifact_bucket,
        "TEST_MANIFEST": test_manifest,
        "APPLICATION": json.dumps(application, sort_keys=True, separators=(",", ":")),
        "DEPLOYMENT_TIMEOUT_SECONDS": str(deployment_timeout_seconds),
        "CANDIDATE_FUNCTION": candidate_function,
        "NOTIFICATION_TOPIC_ARN": notification_topic,
        # Credentials from STS's regional endpoint, which every region accepts (the global
        # one's are refused in regions that are not enabled by default).
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        # Where some function is an image: its repository and candidate (none otherwise).
        **(images or {}),
    }

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from serverless_pipeline import ConfigurationError, EnvironmentSettings
from serverless_pipeline.application_settings import SMOKE_TESTS
from tests.conftest import one, policy_statements, resources, statement, synth_config
from tests.single_function_config import single_function_config


def hooked(before: str | None, after: str | None = None) -> Any:
    config = single_function_config()
    production = EnvironmentSettings(
        "CodeDeployDefault.LambdaAllAtOnce", before_allow_traffic=before, after_allow_traffic=after
    )
    return dataclasses.replace(
        config, application=dataclasses.replace(config.application, production=production)
    )


def hooks_of(handler: dict[str, Any]) -> dict[str, Any]:
    """Environment -> lifecycle hooks, as the handlers' APPLICATION variable gives them."""
    application = json.loads(handler["environment"]["variables"]["APPLICATION"])
    return {e["name"]: e["hooks"] for e in application["environments"]}


def test_the_library_hook_and_a_users_hook_reach_the_appspec_settings() -> None:
    document = synth_config(hooked(SMOKE_TESTS, "orders-after-traffic-check"))
    promote = one(document, "aws_lambda_function", "handlers_promote_function")
    environments = hooks_of(promote)
    assert environments["production"] == {
        "BeforeAllowTraffic": "orders-traffic-hook",
        "AfterAllowTraffic": "orders-after-traffic-check",
    }
    assert environments["staging"] == {}
    deployer = policy_statements(document, "production-deployer")
    invoke = statement(deployer, "InvokeTrafficHooks")
    assert [r.split(":function:")[1] for r in invoke["resources"]] == ["orders-after-traffic-check"]
    # Granted by the hook's owner, HandlerFunctions, when it registers the hook.
    library = statement(deployer, "InvokeLibraryTrafficHook")
    assert [r.split(":function:")[1] for r in library["resources"]] == ["orders-traffic-hook"]
    staging = policy_statements(document, "staging-deployer")
    assert not [s for s in staging if s["sid"].startswith("Invoke")]


def test_the_traffic_hook_is_deployed_only_where_an_environment_uses_it(
    example: dict[str, Any],
) -> None:
    assert not [k for k in resources(example, "aws_lambda_function") if "traffic-hook" in k]
    hooked_stack = synth_config(hooked(SMOKE_TESTS))
    one(hooked_stack, "aws_lambda_function", "handlers_traffic-hook_function")
    users_own = synth_config(hooked("orders-after-traffic-check"))
    assert not [k for k in resources(users_own, "aws_lambda_function") if "traffic-hook" in k]
    # Without the library's hook, the user's own still runs in the AppSpec.
    promote = one(users_own, "aws_lambda_function", "handlers_promote_function")
    assert hooks_of(promote)["production"] == {"BeforeAllowTraffic": "orders-after-traffic-check"}


def test_the_traffic_hook_may_only_report_to_its_groups_and_invoke_its_functions() -> None:
    document = synth_config(hooked(SMOKE_TESTS))
    hook = one(document, "aws_lambda_function", "handlers_traffic-hook_function")
    assert hook["handler"] == "handlers.traffic_hook.handler"
    statements = policy_statements(document, "handlers_traffic-hook_role")
    report = statement(statements, "ReportHookStatus")
    assert report["actions"] == [
        "codedeploy:GetDeployment",
        "codedeploy:PutLifecycleEventHookExecutionStatus",
    ]
    # Only the groups of the environments that run it (production here).
    assert [r.split(":deploymentgroup:")[1] for r in report["resources"]] == [
        "orders-api/orders-api-production",
    ]
    # It reads which release the target version carries, and invokes it; nothing else.
    invoke = statement(statements, "InvokeNewVersions")
    assert invoke["actions"] == ["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"]
    machine = policy_statements(document, "state-machine_role")
    invokable = statement(machine, "InvokeHandlers")["resources"]
    assert not [r for r in invokable if "traffic-hook" in r]


def test_a_bad_hook_name_is_refused() -> None:
    with pytest.raises(ConfigurationError) as raised:
        synth_config(hooked("not a function!"))
    assert raised.value.problems == [
        "production.before_allow_traffic is 'not a function!'; expected 'smoke-tests' or a "
        "Lambda function name: 1-64 letters, digits, '-' or '_'"
    ]

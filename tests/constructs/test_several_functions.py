"""Several functions released as one through any list of environments: the resources, IAM and
state machine of a 3-function x 3-environment stack, the refusals, and the single-function
form's unchanged addresses."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline import (
    AlarmSettings,
    ApplicationProps,
    ConfigurationError,
    Environment,
    EnvironmentSettings,
    FunctionSettings,
)
from serverless_pipeline.constructs.iam import Statement, policy_characters
from tests.conftest import (
    definition,
    one,
    policy_statements,
    referenced_statements,
    resources,
    statement,
    synth_config,
)
from tests.grid_config import grid_config, shaped
from tests.security.test_least_privilege import identity_policies

FUNCTIONS = ("api", "worker", "nightly")
ENVIRONMENTS = ("dev", "staging", "production")
ADDRESSES = Path(__file__).resolve().parents[1] / "data" / "single_function_addresses.txt"


@pytest.fixture(scope="module")
def grid() -> dict[str, Any]:
    return synth_config(grid_config())


def test_every_function_of_every_environment_has_its_function_alias_and_group(
    grid: dict[str, Any],
) -> None:
    functions = {f["function_name"]: f for f in resources(grid, "aws_lambda_function").values()}
    groups = {
        g["deployment_group_name"]: g
        for g in resources(grid, "aws_codedeploy_deployment_group").values()
    }
    for environment in ENVIRONMENTS:
        for function in FUNCTIONS:
            name = f"shop-{function}-{environment}"
            assert functions[name]["environment"]["variables"]["STAGE"] == environment
            assert groups[name]["app_name"].startswith("${aws_codedeploy_app.")
    assert functions["shop-api-dev"]["memory_size"] == 512
    assert functions["shop-worker-dev"]["timeout"] == 120
    assert functions["shop-nightly-dev"]["handler"] == "shop.jobs.nightly"
    # A function's own variables beside its environment's.
    assert functions["shop-nightly-production"]["environment"]["variables"] == {
        "BATCH": "500",
        "STAGE": "production",
    }
    aliases = resources(grid, "aws_lambda_alias")
    assert len(aliases) == 9
    assert len(groups) == 9
    # One release bucket per environment.
    buckets = {b["bucket_prefix"] for b in resources(grid, "aws_s3_bucket").values()}
    assert {f"shop-{e}-" for e in ENVIRONMENTS} <= buckets


def test_each_environment_shifts_every_function_its_own_way(grid: dict[str, Any]) -> None:
    configs = {
        "dev": "CodeDeployDefault.LambdaAllAtOnce",
        "staging": "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
    }
    for environment, config in configs.items():
        for function in FUNCTIONS:
            group = one(
                grid,
                "aws_codedeploy_deployment_group",
                f"_{environment}-{function}-deployment-group",
            )
            assert group["deployment_config_name"] == config
    # The custom canary is one deployment config, shared by production's three groups.
    (custom,) = resources(grid, "aws_codedeploy_deployment_config").values()
    assert custom["deployment_config_name"] == "shop-production-Canary10PercentEvery5Min"
    for function in FUNCTIONS:
        group = one(
            grid, "aws_codedeploy_deployment_group", f"_production-{function}-deployment-group"
        )
        assert group["deployment_config_name"].startswith("${aws_codedeploy_deployment_config.")
        # Each group watches its own function's alarms and the user's own.
        assert group["alarm_configuration"]["alarms"] == [
            f"shop-{function}-production-errors",
            f"shop-{function}-production-throttles",
            "shop-checkout-latency",
        ]


def test_the_state_machine_generalizes_the_original_states(grid: dict[str, Any]) -> None:
    states = definition(grid)["States"]
    assert [name for name in states if name.startswith(("Deploy", "RunTests", "WaitForApp"))] == [
        "RunTests",
        "DeployDev",
        "RunTestsInDev",
        "WaitForApprovalStaging",
        "DeployStaging",
        "RunTestsInStaging",
        "WaitForApproval",
        "DeployProduction",
    ]
    # Each environment is entered through its gates (Start<Env>Gates ... Deploy<Env>).
    assert states["RunTests"]["Next"] == "StartDevGates"
    assert states["DevGatesOpen"]["Choices"][0]["Next"] == "DeployDev"
    assert states["RunTestsInDev"]["Next"] == "WaitForApprovalStaging"
    assert states["WaitForApprovalStaging"]["Next"] == "StartStagingGates"
    assert states["WaitForApprovalStaging"]["TimeoutSeconds"] == 3600
    assert states["WaitForApprovalStaging"]["Parameters"]["Payload"]["environment"] == "staging"
    assert states["WaitForApproval"]["TimeoutSeconds"] == 4 * 3600
    assert states["RunTestsInStaging"]["Next"] == "ApprovalRequired"
    assert states["ProductionDeployed"]["Choices"][0]["Next"] == "NotifyPromoted"
    assert "RunTestsInProduction" not in states
    for environment in ENVIRONMENTS:
        title = environment.capitalize()
        deploy = states[f"Deploy{title}"]
        assert deploy["Parameters"]["Payload"]["environment"] == environment
        assert deploy["ResultPath"] == f"$.deploy_{environment}"
        assert deploy["Catch"][0]["Next"] == "Rollback"
        assert states[f"Check{title}Deployment"]["Catch"][0]["Next"] == "Rollback"


def test_promote_may_change_only_this_applications_functions_and_groups(
    grid: dict[str, Any],
) -> None:
    statements = policy_statements(grid, "handlers_promote_role")
    publish = statement(statements, "PublishReleases")
    assert sorted({r.split(":function:")[1].removesuffix(":*") for r in publish["resources"]}) == [
        f"shop-{f}-{e}" for f in sorted(FUNCTIONS) for e in ("dev", "production", "staging")
    ]
    deploy = statement(statements, "DeployReleases")
    assert sorted(r.split(":deploymentgroup:")[1] for r in deploy["resources"]) == sorted(
        f"shop/shop-{f}-{e}" for f in FUNCTIONS for e in ENVIRONMENTS
    )
    # Each CodeDeploy role shifts one function's alias and reads that function's alarms.
    for environment in ENVIRONMENTS:
        for function in FUNCTIONS:
            deployer = policy_statements(grid, f"{environment}-{function}-deployer")
            shift = statement(deployer, "ShiftAlias")
            assert {r.split(":function:")[1] for r in shift["resources"]} == {
                f"shop-{function}-{environment}",
                f"shop-{function}-{environment}:*",
            }


def test_run_tests_invokes_every_environment_but_the_last(grid: dict[str, Any]) -> None:
    statements = policy_statements(grid, "handlers_run-tests_role")
    invoke = statement(statements, "TestThroughLiveAliases")
    invoked = {r.split(":function:")[1].removesuffix(":*") for r in invoke["resources"]}
    assert invoked == {f"shop-{f}-{e}" for f in FUNCTIONS for e in ("dev", "staging")}


def test_the_traffic_hook_reaches_only_the_environments_that_run_it(grid: dict[str, Any]) -> None:
    statements = policy_statements(grid, "handlers_traffic-hook_role")
    groups = statement(statements, "ReportHookStatus")["resources"]
    assert sorted(r.split("/")[-1] for r in groups) == sorted(
        f"shop-{f}-{e}" for f in FUNCTIONS for e in ("staging", "production")
    )


def test_the_handlers_learn_functions_and_environments_in_order(grid: dict[str, Any]) -> None:
    promote = one(grid, "aws_lambda_function", "handlers_promote_function")
    application = json.loads(promote["environment"]["variables"]["APPLICATION"])
    assert [f["name"] for f in application["functions"]] == list(FUNCTIONS)
    assert [e["name"] for e in application["environments"]] == list(ENVIRONMENTS)
    assert application["function_names"] == "{application}-{function}-{environment}"
    # The candidate function starts as the first function, with the most memory any needs.
    candidate = one(grid, "aws_lambda_function", "handlers_candidate_function")
    assert (candidate["handler"], candidate["memory_size"]) == ("shop.api.handler", 512)


def test_the_single_function_form_keeps_every_address(single: dict[str, Any]) -> None:
    # Renaming any address would make Terraform replace a live resource on upgrade.
    expected = [
        line for line in ADDRESSES.read_text().splitlines() if line and not line.startswith("#")
    ]
    actual = sorted(
        f"{prefix}{kind}.{name}"
        for section, prefix in (("resource", ""), ("data", "data."))
        for kind, items in single.get(section, {}).items()
        for name in items
    )
    # Every address is still there; what later versions add (the cleanup rule) only adds.
    assert set(expected) <= set(actual)


def refused(**changes: Any) -> list[str]:
    config = dataclasses.replace(grid_config(), **changes)
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    return raised.value.problems


def test_every_problem_with_functions_and_environments_is_reported_at_once() -> None:
    config = grid_config()
    functions = {
        "Api": FunctionSettings(handler="api"),
        "worker": FunctionSettings(handler="w.handler", memory_mb=64),
    }
    problems = refused(
        application=dataclasses.replace(config.application, functions=functions),
        environments=(
            Environment("dev"),
            Environment("dev", variables={"AWS_REGION": "x"}),
            Environment("Prod", approval_timeout_seconds=10),
            Environment("artifacts"),
        ),
    )
    assert problems == [
        "functions['Api'] name is 'Api'; expected 1-20 lowercase letters or digits, starting "
        "with a letter, in words joined by single '-'",
        "functions['Api'].handler is 'api'; expected module.function, e.g. app.handler",
        "functions['worker'].memory_mb is 64; expected a whole number from 128 to 10240 MB",
        "environments name 'dev' is used more than once; names must differ",
        "environments['dev'].variables sets AWS_REGION, which Lambda reserves",
        "environments[2].name is 'Prod'; expected 1-15 lowercase letters or digits, starting "
        "with a letter, in words joined by single '-'",
        "environments['Prod'].approval_timeout_seconds is 10; expected a whole number from 60 "
        "to 31536000 seconds",
        "environments[3].name is 'artifacts', which the pipeline's own resources use; choose "
        "another (not artifacts, access-logs, codedeploy, placeholder-code)",
    ]


def test_the_number_of_functions_and_environments_is_bounded() -> None:
    config = grid_config()
    many = {f"f{i}": FunctionSettings(handler=f"f{i}.handler") for i in range(21)}
    assert "functions has 21 entries; expected 1 to 20" in refused(
        application=dataclasses.replace(config.application, functions=many)
    )
    eleven = tuple(Environment(f"e{i}") for i in range(11))
    assert "environments has 11 entries; expected 1 to 10" in refused(environments=eleven)
    assert "environments has 0 entries; expected 1 to 10" in refused(environments=())


def test_the_two_forms_do_not_mix() -> None:
    config = grid_config()
    mixed = ApplicationProps(
        name="shop",
        handler="shop.api.handler",
        memory_mb=512,
        staging=EnvironmentSettings("CodeDeployDefault.LambdaAllAtOnce", {"A": "b"}),
        functions={"api": FunctionSettings(handler="shop.api.handler")},
        environments=(Environment("dev"),),
    )
    problems = refused(application=mixed, environments=None)
    assert problems == [
        "handler is 'shop.api.handler' beside functions=; set it on each FunctionSettings instead",
        "memory_mb is 512 beside functions=; set it on each FunctionSettings instead",
        "staging= or production= is set beside environments=; give those settings to "
        "Environment('staging', ...) and Environment('production', ...) instead",
    ]
    with pytest.raises(ConfigurationError, match="approval_timeout_seconds is 60 beside"):
        synth_config(dataclasses.replace(config, approval_timeout_seconds=60))


def test_names_that_would_not_fit_or_would_collide_are_refused() -> None:
    config = grid_config()
    long = {"a-very-long-function": FunctionSettings(handler="x.handler")}
    problems = refused(
        application=dataclasses.replace(
            config.application, name="a-long-application", functions=long
        ),
        environments=(Environment("a-long-stage-nm"),),
    )
    assert problems == [
        "function 'a-very-long-function' in 'a-long-stage-nm' is named "
        "'a-long-application-a-very-long-function-a-long-stage-nm' (55 characters); at most 53, "
        "so that its IAM roles (<name>-codedeploy) fit IAM's 64; shorten the application, "
        "function or environment name"
    ]
    colliding = {"a": FunctionSettings(handler="x.handler"), "a-b": FunctionSettings("y.handler")}
    problems = refused(
        application=dataclasses.replace(config.application, functions=colliding),
        environments=(Environment("b-c"), Environment("c")),
    )
    assert problems == [
        "function 'a-b' in 'c' and function 'a' in 'b-c' would both be named 'shop-a-b-c'"
    ]


def test_handler_variables_that_outgrow_lambdas_4_kb_are_refused() -> None:
    config = grid_config()
    functions = {
        f"function-number-{i:02}": FunctionSettings(
            handler=f"service.handlers.function_number_{i:02}.handle_incoming_event"
        )
        for i in range(20)
    }
    environments = tuple(
        Environment(f"stage-{i}", before_allow_traffic="shop-synthetic-checks-for-this-stage")
        for i in range(10)
    )
    with pytest.raises(ConfigurationError, match="more than Lambda's 4096") as raised:
        synth_config(
            dataclasses.replace(
                config,
                application=dataclasses.replace(config.application, functions=functions),
                environments=environments,
                deployment_timeout_seconds=3600,
                poll_interval_seconds=60,
            )
        )
    assert "20 functions in 10 environments" in str(raised.value)


def test_names_that_would_spell_one_state_or_one_construct_twice_are_refused() -> None:
    config = grid_config()
    # "a2b" and "a-2b" are both A2b in state names (StartA2bGates, DeployA2b).
    problems = refused(environments=(Environment("a2b"), Environment("a-2b")))
    assert problems == [
        "environments 'a2b', 'a-2b' would give the state machine two states named "
        "StartA2bGates; rename one of them"
    ]
    assert refused(environments=(Environment("prod-"), Environment("prod"))) == [
        "environments[0].name is 'prod-'; expected 1-15 lowercase letters or digits, starting "
        "with a letter, in words joined by single '-'"
    ]
    # prod's bucket has the construct id prod-events for its notifications.
    assert refused(environments=(Environment("prod"), Environment("prod-events"))) == [
        "environments[1].name is 'prod-events', which ends like the ids the pipeline gives "
        "the resources it creates for a name (-events); choose another"
    ]
    functions = {"api": FunctionSettings("a.handler"), "api-alias": FunctionSettings("b.handler")}
    assert refused(application=dataclasses.replace(config.application, functions=functions)) == [
        "functions['api-alias'] name is 'api-alias', which ends like the ids the pipeline "
        "gives the resources it creates for a name (-alias); choose another"
    ]


def test_an_application_function_named_like_a_pipeline_function_is_refused() -> None:
    # Application "shop" in a pipeline named "shop": function "run" in "tests" is shop-run-tests.
    config = grid_config()
    functions = {"run": FunctionSettings("a.handler")}
    with pytest.raises(ConfigurationError) as raised:
        synth_config(
            dataclasses.replace(
                config,
                application=dataclasses.replace(config.application, functions=functions),
                environments=(Environment("tests"), Environment("production")),
            )
        )
    assert raised.value.problems == [
        "function 'run' in 'tests' would be named 'shop-run-tests', like one of the pipeline's "
        "own functions; rename the application, the function or the environment"
    ]


def test_a_deployment_group_watches_at_most_ten_alarms() -> None:
    # CodeDeploy: "You can add up to 10 alarms" to a deployment group (CreateDeploymentGroup).
    own = tuple(f"shop-alarm-{i}" for i in range(9))
    problems = refused(
        environments=(Environment("production", alarms=AlarmSettings(extra_alarm_names=own)),)
    )
    assert problems == [
        "environments['production'].alarms would watch 11 alarms per deployment group (the "
        "errors and throttles alarms and 9 of yours); CodeDeploy allows 10"
    ]


@pytest.mark.slow
def test_twenty_functions_in_ten_environments_fit_iams_policy_limits() -> None:
    document = synth_config(shaped(20, 10))
    assert len(resources(document, "aws_codedeploy_deployment_group")) == 200
    # The promote role names 400 function ARNs: more than an inline policy holds (IAM quotas:
    # 10,240 characters for a role's inline policies, 6,144 per managed policy, 10 managed
    # policies per role). They move into managed policies attached to the role.
    managed = {
        p["name"]: referenced_statements(document, p["policy"])
        for p in resources(document, "aws_iam_policy").values()
    }
    promote = {name: s for name, s in managed.items() if name.startswith("shop-promote-fn-")}
    assert 1 < len(promote) <= 10
    published = [
        r
        for statements in promote.values()
        for s in statements
        if s["sid"].startswith("PublishReleases")
        for r in s["resources"]
    ]
    assert sorted(r.split(":function:")[1] for r in published) == sorted(
        f"shop-fn{i:02}-env{e}{suffix}"
        for i in range(20)
        for e in range(10)
        for suffix in ("", ":*")
    )
    attachments = resources(document, "aws_iam_role_policy_attachment").values()
    assert sum("promote" in a["role"] for a in attachments) == len(promote)
    for statements in [*managed.values(), *identity_policies(document).values()]:
        size = policy_characters(
            [Statement(s["sid"], s["actions"], s["resources"]) for s in statements]
        )
        assert size <= 10_240
    for name, statements in managed.items():
        size = policy_characters(
            [Statement(s["sid"], s["actions"], s["resources"]) for s in statements]
        )
        assert size <= 6_144, name
    # The dashboard stays within CloudWatch's widget limits (100 alarms, 500 metrics each).
    (dashboard,) = resources(document, "aws_cloudwatch_dashboard").values()
    widgets = json.loads(dashboard["dashboard_body"])["widgets"]
    alarms = [w["properties"]["alarms"] for w in widgets if w["type"] == "alarm"]
    assert sum(len(a) for a in alarms) == 3 + 400 and all(len(a) <= 100 for a in alarms)
    assert all(len(w["properties"]["metrics"]) <= 500 for w in widgets if w["type"] == "metric")

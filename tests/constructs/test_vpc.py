"""Functions in an environment's VPC: the network settings each function gets, the permissions
its role needs for Lambda's network interfaces, and the refusals, named at synth time."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from serverless_pipeline import (
    ApplicationProps,
    ConfigurationError,
    Environment,
    FunctionSettings,
    VpcConfig,
)
from serverless_pipeline.example import multi_account_config
from tests.conftest import policy_statements, resources, statement, synth_config
from tests.single_function_config import single_function_config

VPC = VpcConfig(
    subnet_ids=("subnet-0123456789abcdef0", "subnet-0fedcba9876543210"),
    security_group_ids=("sg-0123456789abcdef0",),
)


def vpc_config(vpc: Any = VPC) -> Any:
    """api and worker in production's VPC, webhooks kept out; staging in none."""
    return dataclasses.replace(
        single_function_config(),
        application=ApplicationProps(
            name="shop",
            functions={
                "api": FunctionSettings(handler="app.handler"),
                "worker": FunctionSettings(handler="worker.handler"),
                "webhooks": FunctionSettings(handler="hooks.handler", in_vpc=False),
            },
        ),
        environments=(Environment("staging"), Environment("production", vpc=vpc)),
    )


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return synth_config(vpc_config())


def functions(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["function_name"]: f for f in resources(document, "aws_lambda_function").values()}


def test_the_environments_functions_run_in_its_vpc_unless_kept_out(stack: dict[str, Any]) -> None:
    by_name = functions(stack)
    for name in ("shop-api-production", "shop-worker-production"):
        assert by_name[name]["vpc_config"] == {
            "subnet_ids": list(VPC.subnet_ids),
            "security_group_ids": list(VPC.security_group_ids),
        }
    for name in ("shop-webhooks-production", "shop-api-staging", "shop-worker-staging"):
        assert "vpc_config" not in by_name[name]
    # The pipeline's own functions and the candidate stay out: the candidate runs release code
    # not trusted yet, which never gets a way into the environment's network.
    assert all("vpc_config" not in by_name[f"orders-{n}"] for n in ("candidate", "promote"))


def test_a_vpc_functions_role_may_manage_only_its_network_interfaces(
    stack: dict[str, Any],
) -> None:
    """Lambda creates and deletes the function's network interfaces with its role (Lambda
    developer guide, "Giving Lambda functions access to resources in an Amazon VPC"); EC2's
    Describe actions have no resource type (service authorization reference, Amazon EC2)."""
    statements = policy_statements(stack, "production-api_role")
    create = statement(statements, "CreateNetworkInterfaces")
    assert create["actions"] == ["ec2:CreateNetworkInterface"]
    suffixes = [r.split(":", 5)[-1] for r in create["resources"]]
    assert suffixes == [
        "network-interface/*",
        "subnet/subnet-0123456789abcdef0",
        "subnet/subnet-0fedcba9876543210",
        "security-group/sg-0123456789abcdef0",
    ]
    manage = statement(statements, "ManageNetworkInterfaces")
    assert manage["actions"] == [
        "ec2:AssignPrivateIpAddresses",
        "ec2:DeleteNetworkInterface",
        "ec2:UnassignPrivateIpAddresses",
    ]
    assert [r.split(":", 5)[-1] for r in manage["resources"]] == ["network-interface/*"]
    describe = statement(statements, "DescribeNetworkInterfaces")
    assert describe == {
        **describe,
        "actions": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
        "resources": ["*"],
    }
    for kept_out in ("production-webhooks_role", "staging-api_role"):
        sids = [s.get("sid") for s in policy_statements(stack, kept_out)]
        assert not {"CreateNetworkInterfaces", "DescribeNetworkInterfaces"} & set(sids)


def test_a_vpc_in_another_account_is_scoped_to_that_account() -> None:
    config = multi_account_config()
    environments = tuple(
        dataclasses.replace(e, vpc=VPC) if e.name == "production" else e
        for e in config.environments or ()
    )
    document = synth_config(dataclasses.replace(config, environments=environments))
    create = statement(
        policy_statements(document, "production-api_role"), "CreateNetworkInterfaces"
    )
    assert all(r.startswith("arn:aws:ec2:eu-central-1:222222222222:") for r in create["resources"])


def test_the_single_form_takes_a_vpc_per_environment() -> None:
    base = single_function_config()
    production = dataclasses.replace(base.application.production, vpc=VPC)
    config = dataclasses.replace(
        base, application=dataclasses.replace(base.application, production=production)
    )
    by_name = functions(synth_config(config))
    production_function = next(f for n, f in by_name.items() if n.endswith("-production"))
    assert production_function["vpc_config"]["subnet_ids"] == list(VPC.subnet_ids)


@pytest.mark.parametrize(
    ("vpc", "problems"),
    [
        (
            VpcConfig(subnet_ids=(), security_group_ids=("sg-0123456789abcdef0",)),
            [
                "environments['production'].vpc.subnet_ids is (); expected a list of 1 to 16 "
                "subnet ids"
            ],
        ),
        (
            VpcConfig(
                subnet_ids=("subnet-12", "subnet-0123456789abcdef0", "subnet-0123456789abcdef0"),
                security_group_ids=tuple(f"sg-{i:08x}" for i in range(6)),
            ),
            [
                "environments['production'].vpc.subnet_ids item is 'subnet-12'; expected an id "
                "such as subnet-0123456789abcdef0",
                "environments['production'].vpc.subnet_ids names subnet-0123456789abcdef0 more "
                "than once",
                "environments['production'].vpc.security_group_ids is ('sg-00000000', "
                "'sg-00000001', 'sg-00000002', 'sg-00000003', 'sg-00000004', 'sg-00000005'); "
                "expected a list of 1 to 5 sg ids",
            ],
        ),
        (
            VpcConfig(subnet_ids="subnet-0123456789abcdef0", security_group_ids=("sg-1",)),  # type: ignore[arg-type]
            [
                "environments['production'].vpc.subnet_ids is 'subnet-0123456789abcdef0'; "
                "expected a list of 1 to 16 subnet ids",
                "environments['production'].vpc.security_group_ids item is 'sg-1'; expected an "
                "id such as sg-0123456789abcdef0",
            ],
        ),
    ],
)
def test_a_bad_vpc_is_refused_naming_each_value(vpc: VpcConfig, problems: list[str]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        synth_config(vpc_config(vpc))
    assert raised.value.problems == problems

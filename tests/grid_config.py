"""Three functions released together through three environments: the shape of a real service
(an API, a queue worker, a scheduled job through dev, staging and production)."""

from __future__ import annotations

import dataclasses

from serverless_pipeline import (
    SMOKE_TESTS,
    AlarmSettings,
    ApplicationProps,
    Environment,
    FunctionSettings,
    PipelineConfig,
    TrafficShift,
)


def grid_config() -> PipelineConfig:
    return PipelineConfig(
        name="shop",
        region="eu-central-1",
        application=ApplicationProps(
            name="shop",
            functions={
                "api": FunctionSettings(handler="shop.api.handler", memory_mb=512),
                "worker": FunctionSettings(handler="shop.worker.handler", timeout_seconds=120),
                "nightly": FunctionSettings(
                    handler="shop.jobs.nightly", timeout_seconds=900, variables={"BATCH": "500"}
                ),
            },
        ),
        environments=(
            Environment("dev", variables={"STAGE": "dev"}),
            Environment(
                "staging",
                deployment_config="CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
                variables={"STAGE": "staging"},
                before_allow_traffic=SMOKE_TESTS,
                approval_timeout_seconds=3600,
            ),
            Environment(
                "production",
                deployment_config=TrafficShift("canary", percentage=10, interval_minutes=5),
                variables={"STAGE": "production"},
                alarms=AlarmSettings(extra_alarm_names=("shop-checkout-latency",)),
                before_allow_traffic=SMOKE_TESTS,
                approval_timeout_seconds=4 * 3600,
            ),
        ),
        tags={"team": "shop"},
    )


def shaped(functions: int, environments: int) -> PipelineConfig:
    """The grid config with `functions` functions (fn00, fn01, ...) in `environments`
    environments (env0, env1, ...), the last of them smoke-tested: an application of any size
    the model allows, names of ordinary length."""
    config = grid_config()
    settings = {
        f"fn{i:02}": FunctionSettings(handler=f"shop.fn{i:02}.handler") for i in range(functions)
    }
    last = environments - 1
    return dataclasses.replace(
        config,
        application=dataclasses.replace(config.application, functions=settings),
        environments=tuple(
            Environment(f"env{i}", before_allow_traffic=SMOKE_TESTS if i == last else None)
            for i in range(environments)
        ),
        poll_interval_seconds=60,
    )

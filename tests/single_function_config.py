"""The single-function form of a config (`handler=` on ApplicationProps, the default staging and
production pair): what every user of the first versions wrote, and what must keep synthesizing
the same resources."""

from __future__ import annotations

from serverless_pipeline import ApplicationProps, EnvironmentSettings, PipelineConfig
from serverless_pipeline.config import LocalBackend


def single_function_config() -> PipelineConfig:
    return PipelineConfig(
        name="orders",
        region="eu-west-1",
        application=ApplicationProps(
            name="orders-api",
            handler="app.handler",
            staging=EnvironmentSettings(
                deployment_config="CodeDeployDefault.LambdaAllAtOnce",
                variables={"STAGE": "staging"},
            ),
            production=EnvironmentSettings(
                deployment_config="CodeDeployDefault.LambdaCanary10Percent5Minutes",
                variables={"STAGE": "production"},
            ),
        ),
        backend=LocalBackend(path="terraform.tfstate"),
        tags={"project": "orders", "managed-by": "terraform"},
    )

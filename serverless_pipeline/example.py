"""The example pipeline that `main.py` synthesizes (and that the rehearsal runs)."""

from __future__ import annotations

from .application_settings import ApplicationProps, EnvironmentSettings
from .config import LocalBackend, PipelineConfig


def example_config() -> PipelineConfig:
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

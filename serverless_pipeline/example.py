"""The example pipeline that `main.py` synthesizes (and that the rehearsal runs)."""

from __future__ import annotations

from .application_settings import ApplicationProps, Environment, FunctionSettings
from .config import LocalBackend, PipelineConfig


def example_config() -> PipelineConfig:
    """An orders service of two functions, an API and a queue worker, released together
    through staging and production."""
    return PipelineConfig(
        name="orders",
        region="eu-west-1",
        application=ApplicationProps(
            name="orders",
            functions={
                "api": FunctionSettings(handler="app.handler"),
                "worker": FunctionSettings(handler="worker.handler", timeout_seconds=60),
            },
        ),
        environments=(
            Environment(
                "staging",
                deployment_config="CodeDeployDefault.LambdaAllAtOnce",
                variables={"STAGE": "staging"},
            ),
            Environment(
                "production",
                deployment_config="CodeDeployDefault.LambdaCanary10Percent5Minutes",
                variables={"STAGE": "production"},
            ),
        ),
        backend=LocalBackend(path="terraform.tfstate"),
        tags={"project": "orders", "managed-by": "terraform"},
    )

"""The example pipeline that `main.py` synthesizes (and that the rehearsal runs)."""

from __future__ import annotations

from dataclasses import replace

from .application_settings import ApplicationProps, Environment, FunctionSettings
from .config import LocalBackend, PipelineConfig


def example_config() -> PipelineConfig:
    """An orders service of three functions, an API and a queue worker in Python and a
    notifier in Node.js on arm64, released together through staging and production."""
    return PipelineConfig(
        name="orders",
        region="eu-west-1",
        application=ApplicationProps(
            name="orders",
            functions={
                "api": FunctionSettings(handler="app.handler"),
                "worker": FunctionSettings(handler="worker.handler", timeout_seconds=60),
                # Node.js on Graviton: each function has its own runtime and architecture.
                "notifier": FunctionSettings(
                    handler="notifier.handler", runtime="nodejs22.x", architecture="arm64"
                ),
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
                # Users stay on the release for 10 minutes under watch before it counts.
                bake_minutes=10,
            ),
        ),
        backend=LocalBackend(path="terraform.tfstate"),
        tags={"project": "orders", "managed-by": "terraform"},
    )


STAGING_ACCOUNT = "111111111111"
PRODUCTION_ACCOUNT = "222222222222"


def multi_account_config() -> PipelineConfig:
    """The orders service as AWS advises laying it out: the pipeline in a tooling account,
    staging in an account of its own and production in another account and region."""
    config = example_config()
    staging, production = config.environments or ()
    return replace(
        config,
        environments=(
            replace(
                staging,
                account_id=STAGING_ACCOUNT,
                terraform_role_arn=f"arn:aws:iam::{STAGING_ACCOUNT}:role/terraform",
            ),
            replace(
                production,
                account_id=PRODUCTION_ACCOUNT,
                region="eu-central-1",
                terraform_role_arn=f"arn:aws:iam::{PRODUCTION_ACCOUNT}:role/terraform",
            ),
        ),
    )


EXAMPLES = {"orders": example_config, "multi-account": multi_account_config}
"""The examples `rehearse --example NAME` runs."""

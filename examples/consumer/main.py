"""A separate app that uses the installed library: two applications in one stack, on the engine
the library chooses (cdktf, or CDK Terrain where its extra is installed).

It composes the building blocks itself (one key and one account context shared by both
pipelines) instead of using ServerlessPipelineStack, with its own names, region, bucket names and
traffic shifting, so nothing in the library can be hard-wired to the repository's example. The
ledger is two functions (an API and a reconciler) released together through sandbox, staging and
production; refunds is the single-function form through staging and production.
"""

# ruff: noqa: I001 -- serverless_pipeline first: it configures jsii before the engine starts it.
from serverless_pipeline import (
    ApplicationProps,
    ArtifactBuckets,
    ArtifactBucketsProps,
    AwsContext,
    BuildSettings,
    DeployPipeline,
    DeployPipelineProps,
    DeploymentStateMachine,
    DeploymentStateMachineProps,
    Environment,
    EnvironmentSettings,
    FunctionSettings,
    HandlerFunctions,
    HandlerFunctionsProps,
    Notifications,
    NotificationsProps,
    PipelineKey,
    PipelineKeyProps,
    S3Source,
    ServerlessApplication,
    Subscriber,
)
from serverless_pipeline.engine import App, S3Backend, TerraformStack, aws
from constructs import Construct

ACCOUNT_SUFFIX = "7f3a"


class PaymentsPlatform(TerraformStack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        aws.provider.AwsProvider(self, "aws", region="ap-southeast-2")
        S3Backend(
            self,
            bucket="acme-tf-state",
            key="payments/platform.tfstate",
            region="ap-southeast-2",
            encrypt=True,
        )
        context = AwsContext(self, "context")
        key = PipelineKey(self, "key", PipelineKeyProps(name_prefix="payplat"), context)
        # One topic for both services: the on-call channel hears about every release.
        notifications = Notifications(
            self,
            "notifications",
            NotificationsProps(
                name_prefix="payplat",
                subscribers=[Subscriber("https", "https://hooks.example.com/payments-releases")],
            ),
            key=key,
            context=context,
        )
        services = {
            "ledger": ApplicationProps(
                name="ledger-svc",
                functions={
                    "api": FunctionSettings("ledger.api.handle", memory_mb=1024),
                    "reconciler": FunctionSettings("ledger.reconcile.run", timeout_seconds=300),
                    "webhooks": FunctionSettings(
                        "webhooks/index.handler", runtime="nodejs22.x", architecture="arm64"
                    ),
                },
                environments=(
                    Environment("sandbox", variables={"LEDGER_MODE": "lenient"}),
                    Environment("staging", "CodeDeployDefault.LambdaAllAtOnce"),
                    Environment(
                        "production",
                        "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
                        {"LEDGER_MODE": "strict"},
                        # Ledger releases wait for a person before production, up to 4 hours.
                        approval_timeout_seconds=4 * 3600,
                    ),
                ),
            ),
            "refunds": ApplicationProps(
                name="refunds-svc",
                handler="refunds.handler",
                production=EnvironmentSettings("CodeDeployDefault.LambdaCanary10Percent15Minutes"),
            ),
        }
        for prefix, application_props in services.items():
            application = ServerlessApplication(
                self, f"{prefix}-app", application_props, key=key, context=context
            )
            environments = application.environment_names
            buckets = ArtifactBuckets(
                self,
                f"{prefix}-buckets",
                ArtifactBucketsProps(
                    name_prefix=prefix,
                    artifact_bucket_name=f"acme-{prefix}-artifacts-{ACCOUNT_SUFFIX}",
                    staging_bucket_name=f"acme-{prefix}-staging-{ACCOUNT_SUFFIX}",
                    production_bucket_name=f"acme-{prefix}-production-{ACCOUNT_SUFFIX}",
                    environments=environments,
                    # Every other environment's bucket, named like the pair's.
                    bucket_names={
                        env: f"acme-{prefix}-{env}-{ACCOUNT_SUFFIX}"
                        for env in environments
                        if env not in ("staging", "production")
                    },
                ),
                key=key,
                context=context,
            )
            handlers = HandlerFunctions(
                self,
                f"{prefix}-handlers",
                HandlerFunctionsProps(name_prefix=prefix, test_manifest="ci/release-tests.json"),
                key=key,
                buckets=buckets,
                application=application,
                notifications=notifications,
                context=context,
            )
            machine = DeploymentStateMachine(
                self,
                f"{prefix}-deployment",
                DeploymentStateMachineProps(name_prefix=prefix, poll_interval_seconds=20),
                handlers=handlers,
                notifications=notifications,
                key=key,
                context=context,
            )
            DeployPipeline(
                self,
                f"{prefix}-pipeline",
                DeployPipelineProps(
                    name_prefix=prefix,
                    source=S3Source(object_key=f"incoming/{prefix}.zip"),
                    build=BuildSettings(source_dir=prefix, unit_test_command="make unit"),
                    test_manifest="ci/release-tests.json",
                    function_runtimes=application_props.function_runtimes(),
                ),
                buckets=buckets,
                key=key,
                state_machine=machine,
                context=context,
            )


app = App()
PaymentsPlatform(app, "payments-platform")
app.synth()

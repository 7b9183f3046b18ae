"""A configuration with every optional feature turned on."""

from __future__ import annotations

from serverless_pipeline import (
    SMOKE_TESTS,
    ApplicationProps,
    BuildSettings,
    ConnectionSource,
    EnvironmentSettings,
    PipelineConfig,
    S3Backend,
    Subscriber,
    TrafficShift,
    VpcConfig,
)


def full_config() -> PipelineConfig:
    return PipelineConfig(
        name="payments",
        region="us-east-1",
        application=ApplicationProps(
            name="payments-api",
            handler="service.main.handler",
            runtime="python3.12",
            memory_mb=1024,
            timeout_seconds=60,
            reserved_concurrency=50,
            staging=EnvironmentSettings(
                "CodeDeployDefault.LambdaLinear10PercentEvery1Minute", {"STAGE": "staging"}
            ),
            production=EnvironmentSettings(
                TrafficShift("canary", percentage=5, interval_minutes=15),
                {"STAGE": "production"},
                before_allow_traffic=SMOKE_TESTS,
                after_allow_traffic="payments-synthetic-checkout",
                vpc=VpcConfig(
                    subnet_ids=("subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"),
                    security_group_ids=("sg-0a1b2c3d4e5f60718",),
                ),
            ),
        ),
        source=ConnectionSource(
            connection_arn="arn:aws:codeconnections:us-east-1:123456789012:connection/abc-123",
            repository="acme/payments",
            branch="release",
        ),
        build=BuildSettings(
            source_dir="service",
            unit_test_command="make test",
            compute_type="BUILD_GENERAL1_MEDIUM",
            timeout_minutes=20,
        ),
        backend=S3Backend(
            bucket="acme-terraform-state",
            key="payments/terraform.tfstate",
            region="us-east-1",
            kms_key_id="alias/terraform",
        ),
        tags={"team": "payments", "cost-center": "42"},
        test_manifest="tests/release.json",
        poll_interval_seconds=15,
        deployment_timeout_seconds=7200,
        log_retention_days=731,
        force_destroy_buckets=True,
        approval_timeout_seconds=4 * 3600,
        subscribers=(Subscriber("email", "oncall@example.com"),),
        handler_reserved_concurrency=2,
    )

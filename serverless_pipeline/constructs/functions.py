"""One Lambda function with its own encrypted log group, role, X-Ray and JSON logs."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from constructs import Construct

from ..application_settings import VpcConfig
from ..assets import lambda_hash, write_once
from ..engine import AssetType, TerraformAsset, TerraformResourceLifecycle, aws
from ..handlers.runtimes import DEFAULT_ARCHITECTURE
from .encryption import PipelineKey, encrypted_log_group
from .iam import XRAY_WRITE, ServiceRole, Statement, use_key, write_logs

ASSET_DIRECTORY = Path(tempfile.gettempdir()) / "serverless-pipeline-assets"


def zip_asset(scope: Construct, id: str, name: str, data: bytes) -> TerraformAsset:
    """A file asset of deterministic zip bytes, so that identical code synthesizes identically."""
    path = write_once(ASSET_DIRECTORY, name, data)
    return TerraformAsset(scope, id, path=str(path), type=AssetType.FILE)


class LoggedFunction(Construct):
    """A function whose log group exists (with retention and KMS) before the function writes."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function_name: str,
        description: str,
        handler: str,
        runtime: str | None,
        memory_mb: int,
        timeout_seconds: int,
        environment: Mapping[str, str],
        statements: Sequence[Statement],
        key: PipelineKey,
        log_retention_days: int,
        publish: bool = False,
        ignore_code_changes: bool = False,
        reserved_concurrency: int | None = None,
        sandboxed: bool = False,
        architecture: str = DEFAULT_ARCHITECTURE,
        layers: Sequence[str] = (),
        pipeline_sets_layers: bool = False,
        vpc: VpcConfig | None = None,
        code: bytes | None = None,
        asset: TerraformAsset | None = None,
        image_uri: str | None = None,
    ) -> None:
        """The code: the zip `code` and its `asset`, or a container image (`image_uri`, whose
        command `handler` is; `runtime` is then None, the image brings it).
        `sandboxed`: the function runs release code that is not yet trusted, so its role may
        only write its logs (no traces, no key, nothing in `statements`), and Terraform leaves
        its code and environment to the pipeline, which sets both for every release.
        `pipeline_sets_layers`: the function takes layers built from the release, whose versions
        promote sets with each release; Terraform leaves them (its `layers` are the start).
        `vpc`: the subnets and security groups the function runs in; `statements` must then let
        its role manage the network interfaces Lambda creates there."""
        if (image_uri is None) == (code is None or asset is None):
            raise ValueError(f"{function_name}: give either code and asset, or image_uri")
        super().__init__(scope, id)
        self.log_group = encrypted_log_group(
            self,
            "logs",
            name=f"/aws/lambda/{function_name}",
            key=key,
            retention_days=log_retention_days,
        )
        self.role = ServiceRole(
            self,
            "role",
            name=f"{function_name}-fn",
            service="lambda.amazonaws.com",
            description=f"Runs the {function_name} function",
            statements=[write_logs(self.log_group.arn)]
            if sandboxed
            else [
                write_logs(self.log_group.arn),
                XRAY_WRITE,
                use_key(key.arn, decrypt_only=True),
                *statements,
            ],
        )
        ignored: list[str] = []
        if (ignore_code_changes or sandboxed) and image_uri is not None:
            ignored.append("image_uri")
        elif ignore_code_changes or sandboxed:
            ignored += ["filename", "source_code_hash", "s3_bucket", "s3_key", "s3_object_version"]
        if sandboxed:
            ignored.append("environment")
        if pipeline_sets_layers:
            ignored.append("layers")
        lifecycle = TerraformResourceLifecycle(ignore_changes=ignored) if ignored else None
        self.function = aws.lambda_function.LambdaFunction(
            self,
            "function",
            function_name=function_name,
            description=description,
            role=self.role.arn,
            runtime=runtime,
            handler=None if image_uri else handler,
            # Left out at their defaults, so that an x86_64 function without layers synthesizes
            # as it always has.
            architectures=[architecture] if architecture != DEFAULT_ARCHITECTURE else None,
            layers=list(layers) or None,
            filename=asset.path if asset else None,
            source_code_hash=lambda_hash(code) if code is not None else None,
            # An image's command is its handler; left out for a zip function, as before.
            package_type="Image" if image_uri else None,
            image_uri=image_uri,
            image_config=aws.lambda_function.LambdaFunctionImageConfig(command=[handler])
            if image_uri
            else None,
            memory_size=memory_mb,
            timeout=timeout_seconds,
            publish=publish,
            reserved_concurrent_executions=reserved_concurrency,
            vpc_config=aws.lambda_function.LambdaFunctionVpcConfig(
                subnet_ids=list(vpc.subnet_ids),
                security_group_ids=list(vpc.security_group_ids),
                ipv6_allowed_for_dual_stack=vpc.ipv6_allowed_for_dual_stack or None,
            )
            if vpc
            else None,
            # A sandboxed function's variables are set per test case by run_tests: values from
            # the release's own manifest, under Lambda's own key, so that run_tests needs no
            # kms:CreateGrant on the pipeline key.
            kms_key_arn=None if sandboxed else key.arn,
            environment=aws.lambda_function.LambdaFunctionEnvironment(variables=dict(environment))
            if environment
            else None,
            tracing_config=aws.lambda_function.LambdaFunctionTracingConfig(
                mode="PassThrough" if sandboxed else "Active"
            ),
            logging_config=aws.lambda_function.LambdaFunctionLoggingConfig(
                log_format="JSON",
                log_group=self.log_group.name,
                application_log_level="INFO",
                # INFO keeps Lambda's START and REPORT lines: duration and memory used.
                system_log_level="INFO",
            ),
            depends_on=[self.log_group, self.role.policy],
            lifecycle=lifecycle,
        )

    @property
    def arn(self) -> str:
        return self.function.arn

    @property
    def name(self) -> str:
        return self.function.function_name

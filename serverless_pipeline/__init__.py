"""cdktf-serverless-pipeline: a secure continuous-deployment pipeline for AWS Lambda
applications, as CDK for Terraform constructs plus the Lambda handlers it runs.

Importing this package makes the AWS provider bindings load lazily (see provider_imports), so a
synth pays only for the provider resources it uses.
"""

from __future__ import annotations

import os

from . import provider_imports

# jsii prints a multi-line end-of-life banner for Node.js 20 on every start; users who want it
# can set the variable themselves.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
provider_imports.install()

from .alarms import AlarmSettings  # noqa: E402
from .config import Backend, CloudBackend, LocalBackend, PipelineConfig, S3Backend  # noqa: E402
from .constructs.application import (  # noqa: E402
    SMOKE_TESTS,
    ApplicationProps,
    EnvironmentSettings,
    ServerlessApplication,
    TrafficShift,
)
from .constructs.artifact_buckets import ArtifactBuckets, ArtifactBucketsProps  # noqa: E402
from .constructs.aws_context import AwsContext  # noqa: E402
from .constructs.encryption import PipelineKey, PipelineKeyProps  # noqa: E402
from .constructs.handler_functions import HandlerFunctions, HandlerFunctionsProps  # noqa: E402
from .constructs.notifications import (  # noqa: E402
    Notifications,
    NotificationsProps,
    Subscriber,
)
from .constructs.pipeline import (  # noqa: E402
    BuildSettings,
    ConnectionSource,
    DeployPipeline,
    DeployPipelineProps,
    S3Source,
)
from .constructs.stack import ServerlessPipeline, ServerlessPipelineStack  # noqa: E402
from .constructs.state_machine import (  # noqa: E402
    DeploymentStateMachine,
    DeploymentStateMachineProps,
)
from .validation import ConfigurationError  # noqa: E402
from .version import __version__  # noqa: E402

__all__ = [
    "SMOKE_TESTS",
    "AlarmSettings",
    "ApplicationProps",
    "ArtifactBuckets",
    "ArtifactBucketsProps",
    "AwsContext",
    "Backend",
    "BuildSettings",
    "CloudBackend",
    "ConfigurationError",
    "ConnectionSource",
    "DeployPipeline",
    "DeployPipelineProps",
    "DeploymentStateMachine",
    "DeploymentStateMachineProps",
    "EnvironmentSettings",
    "HandlerFunctions",
    "HandlerFunctionsProps",
    "LocalBackend",
    "Notifications",
    "NotificationsProps",
    "PipelineConfig",
    "PipelineKey",
    "PipelineKeyProps",
    "S3Backend",
    "S3Source",
    "ServerlessApplication",
    "ServerlessPipeline",
    "ServerlessPipelineStack",
    "Subscriber",
    "TrafficShift",
    "__version__",
]

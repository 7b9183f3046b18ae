"""cdktf-serverless-pipeline: a secure continuous-deployment pipeline for AWS Lambda
applications, as CDK for Terraform (or CDK Terrain) constructs plus the Lambda handlers it runs.

Importing this package makes the AWS provider bindings load lazily (see provider_imports), so a
synth pays only for the provider resources it uses. The public names below load on first use
(PEP 562): importing the package, or its handlers and emulator, starts no jsii kernel and needs
no engine (engine.py) nor provider bindings installed.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from . import provider_imports
from .version import __version__

# jsii prints a multi-line end-of-life banner for Node.js 20 on every start; users who want it
# can set the variable themselves.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
provider_imports.install()

if TYPE_CHECKING:
    from .alarms import AlarmSettings
    from .application_settings import (
        SMOKE_TESTS,
        ApplicationProps,
        DeploymentWindow,
        Environment,
        EnvironmentSettings,
        FunctionSettings,
        TrafficShift,
        VpcConfig,
    )
    from .build_settings import BuildSettings, ConnectionSource, S3Source
    from .config import Backend, CloudBackend, LocalBackend, PipelineConfig, S3Backend
    from .constructs.application import ServerlessApplication
    from .constructs.artifact_buckets import ArtifactBuckets, ArtifactBucketsProps
    from .constructs.aws_context import AwsContext
    from .constructs.encryption import PipelineKey, PipelineKeyProps
    from .constructs.handler_functions import HandlerFunctions, HandlerFunctionsProps
    from .constructs.notifications import Notifications, NotificationsProps
    from .constructs.pipeline import DeployPipeline, DeployPipelineProps
    from .constructs.stack import ServerlessPipeline, ServerlessPipelineStack
    from .constructs.state_machine import DeploymentStateMachine, DeploymentStateMachineProps
    from .validation import ConfigurationError

# public name -> the module that defines it
_EXPORTS = {
    "AlarmSettings": ".alarms",
    "ApplicationProps": ".application_settings",
    "ArtifactBuckets": ".constructs.artifact_buckets",
    "ArtifactBucketsProps": ".constructs.artifact_buckets",
    "AwsContext": ".constructs.aws_context",
    "Backend": ".config",
    "BuildSettings": ".build_settings",
    "CloudBackend": ".config",
    "ConfigurationError": ".validation",
    "ConnectionSource": ".build_settings",
    "DeployPipeline": ".constructs.pipeline",
    "DeployPipelineProps": ".constructs.pipeline",
    "DeploymentStateMachine": ".constructs.state_machine",
    "DeploymentStateMachineProps": ".constructs.state_machine",
    "DeploymentWindow": ".application_settings",
    "Environment": ".application_settings",
    "EnvironmentSettings": ".application_settings",
    "FunctionSettings": ".application_settings",
    "HandlerFunctions": ".constructs.handler_functions",
    "HandlerFunctionsProps": ".constructs.handler_functions",
    "LocalBackend": ".config",
    "Notifications": ".constructs.notifications",
    "NotificationsProps": ".constructs.notifications",
    "PipelineConfig": ".config",
    "PipelineKey": ".constructs.encryption",
    "PipelineKeyProps": ".constructs.encryption",
    "S3Backend": ".config",
    "S3Source": ".build_settings",
    "SMOKE_TESTS": ".application_settings",
    "ServerlessApplication": ".constructs.application",
    "ServerlessPipeline": ".constructs.stack",
    "ServerlessPipelineStack": ".constructs.stack",
    "Subscriber": ".subscribers",
    "TrafficShift": ".application_settings",
    "VpcConfig": ".application_settings",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


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
    "DeploymentWindow",
    "Environment",
    "EnvironmentSettings",
    "FunctionSettings",
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
    "VpcConfig",
    "__version__",
]

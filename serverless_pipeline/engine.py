"""The one place that names the engine: CDK for Terraform (`cdktf`) or CDK Terrain (`cdktn`).

CDK Terrain is the community fork cdktf users move to since cdktf 0.21 was deprecated. Both have
the same core classes and, for the AWS provider, the same modules, classes and arguments (AWS
provider 6.x bindings on both sides), so a construct written against one synthesizes on the
other. Everything that builds on an engine (the constructs, main.py, the consumer example, the
tests) takes it from here: the core names (`App`, `TerraformStack`, `Token`, ...) as attributes
of this module, and the provider bindings as `aws` (`aws.lambda_function.LambdaFunction`).

The engine is chosen once per process, when this module is first imported:

1. `SERVERLESS_PIPELINE_ENGINE=cdktf` or `=cdktn`, when set;
2. otherwise the engine the program already imported, when it imported exactly one (a cdktf app
   that imported `cdktf` before building our constructs keeps it: one synth must not mix the
   two, whose constructs do not recognize each other);
3. otherwise CDK Terrain when it is installed (`pip install 'cdktf-serverless-pipeline[cdktn]'`
   installs it, and is the user's explicit choice), else cdktf, the default dependency.

Types are checked against cdktf: under CDK Terrain the same names are cdktn's classes, which
take the same arguments. Importing this module imports the engine, which starts the jsii
kernel; the configuration, the rehearsal and the handlers never import it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

VARIABLE = "SERVERLESS_PIPELINE_ENGINE"
# engine (its core package) -> the Python package of its AWS provider bindings
PROVIDERS = {"cdktf": "cdktf_cdktf_provider_aws", "cdktn": "cdktn_provider_aws"}
# engine -> what installs it
INSTALL = {
    "cdktf": "pip install cdktf-serverless-pipeline",
    "cdktn": "pip install 'cdktf-serverless-pipeline[cdktn]'",
}


def choose(
    environ: Mapping[str, str],
    imported: Collection[str],
    installed: Callable[[str], bool],
) -> str:
    """The engine by the rule above, from the environment, the modules already imported and
    whether a package is installed."""
    named = environ.get(VARIABLE, "").strip()
    if named:
        if named not in PROVIDERS:
            raise ImportError(f"{VARIABLE}={named!r}: choose one of {', '.join(PROVIDERS)}")
        return named
    loaded = [engine for engine in PROVIDERS if engine in imported]
    if len(loaded) == 1:
        return loaded[0]
    if installed("cdktn") and installed(PROVIDERS["cdktn"]):
        return "cdktn"
    return "cdktf"


def _installed(package: str) -> bool:
    return package in sys.modules or importlib.util.find_spec(package) is not None


NAME = choose(os.environ, sys.modules, _installed)
PROVIDER = PROVIDERS[NAME]

# What the seam offers: the rule and its outcome, the provider bindings and the core names the
# library, its examples and its tests use.
__all__ = [
    "NAME",
    "PROVIDER",
    "PROVIDERS",
    "VARIABLE",
    "App",
    "AssetType",
    "CloudBackend",
    "DefaultTokenResolver",
    "LocalBackend",
    "NamedCloudWorkspace",
    "S3Backend",
    "StringConcat",
    "TerraformAsset",
    "TerraformDataSource",
    "TerraformResource",
    "TerraformResourceLifecycle",
    "TerraformStack",
    "Testing",
    "Token",
    "Tokenization",
    "aws",
    "choose",
]

if TYPE_CHECKING:
    import cdktf_cdktf_provider_aws as aws
    from cdktf import (
        App,
        AssetType,
        CloudBackend,
        DefaultTokenResolver,
        LocalBackend,
        NamedCloudWorkspace,
        S3Backend,
        StringConcat,
        TerraformAsset,
        TerraformDataSource,
        TerraformResource,
        TerraformResourceLifecycle,
        TerraformStack,
        Testing,
        Token,
        Tokenization,
    )
else:
    try:
        _core = importlib.import_module(NAME)
        aws = importlib.import_module(PROVIDER)
    except ImportError as error:
        raise ImportError(
            f"the {NAME} engine is not installed ({error}); install it with: {INSTALL[NAME]}"
        ) from error

    def __getattr__(name: str) -> Any:
        """The core names above: the chosen engine's own classes."""
        if name in __all__:
            return getattr(_core, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

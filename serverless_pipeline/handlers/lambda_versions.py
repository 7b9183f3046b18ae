"""Which release a Lambda version carries, and which version an alias serves.

A published version's description records its release ("release <id>"), so the live release of
an environment can always be read back from AWS itself, never from a copy that could drift.
"""

from __future__ import annotations

from typing import Any

DESCRIPTION_PREFIX = "release "


def describe(release_id: str) -> str:
    return DESCRIPTION_PREFIX + release_id


def release_of(lambda_client: Any, function_name: str, version: str) -> str | None:
    """The release a version was published for, or None for one the pipeline did not publish."""
    configuration = lambda_client.get_function_configuration(
        FunctionName=function_name, Qualifier=version
    )
    description: str = configuration.get("Description", "")
    if description.startswith(DESCRIPTION_PREFIX):
        return description[len(DESCRIPTION_PREFIX) :]
    return None


def alias_version(lambda_client: Any, function_name: str, alias: str) -> str:
    version: str = lambda_client.get_alias(FunctionName=function_name, Name=alias)[
        "FunctionVersion"
    ]
    return version

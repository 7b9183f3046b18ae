"""The handler functions' configuration, which the constructs pass as environment variables.

Read on each invocation (it is a few dictionary look-ups) so that tests and the rehearsal can run
several configurations in one process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ConfigurationError
from .events import ENVIRONMENTS

HOOK_EVENTS = ("BeforeAllowTraffic", "AfterAllowTraffic")


@dataclass(frozen=True)
class Environment:
    """One deployment target: its function, alias, release bucket and CodeDeploy group."""

    name: str
    function_name: str
    alias: str
    bucket: str
    application: str
    deployment_group: str
    # lifecycle event (BeforeAllowTraffic, AfterAllowTraffic) -> hook function name
    hooks: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    artifact_bucket: str
    app_handler: str
    test_manifest: str
    environments: Mapping[str, Environment]
    deployment_timeout_seconds: int
    # The function that runs a candidate release's test cases (its role can only write logs).
    candidate_function: str
    # Where approval requests go; empty where a handler does not publish.
    notification_topic: str = ""

    def topic(self) -> str:
        """The notification topic, for the handlers that publish to it."""
        if not self.notification_topic:
            raise ConfigurationError("environment variable NOTIFICATION_TOPIC_ARN is not set")
        return self.notification_topic

    def environment(self, name: str) -> Environment:
        return self.environments[name]


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigurationError(
            f"environment variable {name} is {raw!r}; expected a positive integer"
        )
    return value


def _environments(raw: str) -> dict[str, Environment]:
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"ENVIRONMENTS is not valid JSON: {error}") from error
    if not isinstance(parsed, dict) or sorted(parsed) != sorted(ENVIRONMENTS):
        raise ConfigurationError(
            f"ENVIRONMENTS must map exactly {', '.join(ENVIRONMENTS)} to their settings"
        )
    fields = ("function_name", "alias", "bucket", "application", "deployment_group")
    environments = {}
    for name, values in parsed.items():
        if not isinstance(values, dict) or any(
            not isinstance(values.get(key), str) or not values[key] for key in fields
        ):
            raise ConfigurationError(f"ENVIRONMENTS.{name} must set {', '.join(fields)}")
        hooks = values.get("hooks", {})
        if not isinstance(hooks, dict) or any(
            event not in HOOK_EVENTS or not isinstance(function, str) or not function
            for event, function in hooks.items()
        ):
            raise ConfigurationError(
                f"ENVIRONMENTS.{name}.hooks must map {' or '.join(HOOK_EVENTS)} to function names"
            )
        environments[name] = Environment(
            name=name,
            function_name=values["function_name"],
            alias=values["alias"],
            bucket=values["bucket"],
            application=values["application"],
            deployment_group=values["deployment_group"],
            hooks=hooks,
        )
    return environments


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `env` (the process environment by default)."""
    env = os.environ if env is None else env
    return Settings(
        artifact_bucket=_required(env, "ARTIFACT_BUCKET"),
        app_handler=_required(env, "APP_HANDLER"),
        test_manifest=_required(env, "TEST_MANIFEST"),
        environments=_environments(_required(env, "ENVIRONMENTS")),
        deployment_timeout_seconds=_positive_int(env, "DEPLOYMENT_TIMEOUT_SECONDS", 3600),
        candidate_function=_required(env, "CANDIDATE_FUNCTION"),
        notification_topic=env.get("NOTIFICATION_TOPIC_ARN", ""),
    )

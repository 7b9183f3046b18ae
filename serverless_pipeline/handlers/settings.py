"""The handler functions' configuration, which the constructs pass as environment variables.

Read on each invocation (it is a few dictionary look-ups) so that tests and the rehearsal can run
several configurations in one process.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import runtimes
from .errors import ConfigurationError, InvalidEvent

HOOK_EVENTS = ("BeforeAllowTraffic", "AfterAllowTraffic")
NAME_FIELDS = ("application", "environment", "function")


@dataclass(frozen=True)
class Function:
    """One function of the application: its handler in the release, and the runtime and
    processor architecture that run it (validate checks the release against both)."""

    name: str
    handler: str
    memory_mb: int
    runtime: str = runtimes.DEFAULT_RUNTIME
    architecture: str = runtimes.DEFAULT_ARCHITECTURE
    layers: tuple[str, ...] = ()
    """Layer version ARNs and names of layers built from the release (release_layers.py), in
    Lambda's merge order; the candidate function takes them for this function's cases."""
    package_type: str = "Zip"
    """"Image": the function runs the release's container image (handlers/images.py), and
    `handler` is the image's command; its runtime is the image's, not `runtime`."""


@dataclass(frozen=True)
class Target:
    """One function in one environment: the alias CodeDeploy shifts and its deployment group."""

    environment: str
    function: str
    function_name: str
    alias: str
    bucket: str
    application: str
    deployment_group: str
    # lifecycle event (BeforeAllowTraffic, AfterAllowTraffic) -> hook function name
    hooks: Mapping[str, str] = field(default_factory=dict)
    single_form: bool = False
    """The application's only function, named without it (<application>-<environment>):
    records written before several functions existed are kept per environment."""
    package_type: str = "Zip"
    """The function's Function.package_type: promote deploys an image function by its digest."""
    architecture: str = runtimes.DEFAULT_ARCHITECTURE
    """The function's Function.architecture, which promote sends with each release's code."""
    layers: tuple[str, ...] = ()
    """The function's Function.layers: promote sets them with the release when some are built
    from it (Terraform cannot know those versions' ARNs)."""


OWN_ALARMS = ("errors", "throttles")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Window:
    """When an environment may be deployed (the constructs' DeploymentWindow)."""

    days: tuple[str, ...]
    start: str
    end: str
    zone: str
    calendar: str | None
    wait: int
    """Seconds a release waits for the window before it fails."""


@dataclass(frozen=True)
class Environment:
    """One environment: its release bucket and every function's target in it."""

    name: str
    bucket: str
    targets: tuple[Target, ...]
    role: str | None = None
    """The deployment role the handlers act through in an environment that lives in another
    account or region; None: the environment is the pipeline's own account and region."""
    region: str | None = None
    """Its region, when not the pipeline's."""
    own_alarms: tuple[str, ...] = OWN_ALARMS
    """The pipeline's alarms of each function, by how their names end (<function>-errors)."""
    extra_alarms: tuple[str, ...] = ()
    """The user's own alarms that watch the environment."""
    window: Window | None = None

    @property
    def alarm_names(self) -> list[str]:
        """Every alarm that watches the environment's functions."""
        own = [f"{t.function_name}-{suffix}" for t in self.targets for suffix in self.own_alarms]
        return list(dict.fromkeys([*own, *self.extra_alarms]))

    def target(self, function: str) -> Target:
        return next(t for t in self.targets if t.function == function)


@dataclass(frozen=True)
class Settings:
    application: str
    """The application's name, which names the layers published from its releases."""
    artifact_bucket: str
    test_manifest: str
    functions: tuple[Function, ...]
    """In order: the first is the function of test cases that name none."""
    environments: tuple[Environment, ...]
    """In the order a release goes through them."""
    deployment_timeout_seconds: int
    # The function that runs a candidate release's test cases (its role can only write logs).
    candidate_function: str
    # Where approval requests go; empty where a handler does not publish.
    notification_topic: str = ""
    claims: str = ""
    """The bucket of the pipeline's claim; empty: the first environment's."""
    approvals: str = ""
    """The bucket of pending approvals; empty: the last environment's."""
    line_switch: str = ""
    """The stop-the-line SSM parameter; empty: no line to check."""
    line_wait: int = 3600
    """Seconds a release waits for a stopped line before it fails."""
    image_candidate_function: str = ""
    """The candidate that runs the image functions' cases; empty: no function is an image."""
    image_repository: str = ""
    """The URL of the ECR repository of the release images; empty: no function is an image."""

    def topic(self) -> str:
        """The notification topic, for the handlers that publish to it."""
        if not self.notification_topic:
            raise ConfigurationError("environment variable NOTIFICATION_TOPIC_ARN is not set")
        return self.notification_topic

    @property
    def environment_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.environments)

    def environment(self, name: str) -> Environment:
        for environment in self.environments:
            if environment.name == name:
                return environment
        raise InvalidEvent(
            f"environment is {name!r:.80}; expected one of {', '.join(self.environment_names)}"
        )

    def function(self, name: str) -> Function:
        for function in self.functions:
            if function.name == name:
                return function
        raise InvalidEvent(
            f"function is {name!r:.80}; expected one of {', '.join(f.name for f in self.functions)}"
        )

    @property
    def claim_bucket(self) -> str:
        """Which execution holds the pipeline is kept in the first environment's bucket, or in
        the artifact bucket when that environment lives in another account or region: the
        pipeline's own records stay in the pipeline's account."""
        return self.claims or self.environments[0].bucket

    @property
    def approvals_bucket(self) -> str:
        """Pending approvals live in the last environment's bucket (whichever gate asks), or
        as the claim does."""
        return self.approvals or self.environments[-1].bucket


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


def _strings(value: Any, keys: tuple[str, ...], where: str) -> dict[str, str]:
    if not isinstance(value, dict) or any(
        not isinstance(value.get(key), str) or not value[key] for key in keys
    ):
        raise ConfigurationError(f"APPLICATION {where} must set {', '.join(keys)}")
    return value


def _code(values: Mapping[str, Any]) -> tuple[str, str]:
    """(runtime, architecture) of a function: as named, else the defaults (the constructs name
    only what differs from them, to keep within Lambda's 4 KB of variables)."""
    runtime = values.get("runtime", runtimes.DEFAULT_RUNTIME)
    # str(): a list or an object in the JSON is named, not hashed.
    problem = runtimes.runtime_problem(str(runtime))
    if problem is not None:
        raise ConfigurationError(f"APPLICATION function {values['name']} runtime {problem}")
    architecture = values.get("architecture", runtimes.DEFAULT_ARCHITECTURE)
    if architecture not in runtimes.ARCHITECTURES:
        raise ConfigurationError(
            f"APPLICATION function {values['name']} architecture is {architecture!r:.80}; "
            f"expected {' or '.join(runtimes.ARCHITECTURES)}"
        )
    return runtime, architecture


ROLE_ARN = re.compile(r"arn:[\w-]+:iam::\d{12}:role/[\w+=,.@/-]+")
REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")


def _placement(values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(role, region) of an environment elsewhere; (None, None) for one with the pipeline."""
    role, region = values.get("role"), values.get("region")
    if role is not None and (not isinstance(role, str) or not ROLE_ARN.fullmatch(role)):
        raise ConfigurationError(
            f"APPLICATION environment {values['name']} role is {role!r}; expected an IAM role ARN"
        )
    if region is not None and (not isinstance(region, str) or not REGION.fullmatch(region)):
        raise ConfigurationError(
            f"APPLICATION environment {values['name']} region is {region!r}; expected a region"
        )
    if region is not None and role is None:
        raise ConfigurationError(
            f"APPLICATION environment {values['name']} has a region but no role to act there"
        )
    return role, region


def _gates(values: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...], Window | None]:
    """(own alarm suffixes, extra alarms, window) of an environment's gates."""
    name = values["name"]
    alarms = values.get("alarms", {"own": list(OWN_ALARMS), "extra": []})
    lists = [alarms.get(key) for key in ("own", "extra")] if isinstance(alarms, dict) else [None]
    if not all(isinstance(x, list) and all(isinstance(a, str) for a in x) for x in lists):
        raise ConfigurationError(f"APPLICATION environment {name} alarms must list own and extra")
    raw = values.get("window")
    if raw is None:
        return tuple(alarms["own"]), tuple(alarms["extra"]), None
    try:
        window = Window(
            days=tuple(raw["days"]),
            start=str(raw["start"]),
            end=str(raw["end"]),
            zone=str(raw["zone"]),
            calendar=raw.get("calendar"),
            wait=int(raw["wait"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(
            f"APPLICATION environment {name} window is malformed: {error!r}"
        ) from error
    if not set(window.days) <= set(WEEKDAYS) or window.wait <= 0:
        raise ConfigurationError(f"APPLICATION environment {name} window is {raw!r}")
    return tuple(alarms["own"]), tuple(alarms["extra"]), window


def _application(raw: str) -> tuple[tuple[Function, ...], tuple[Environment, ...], dict[str, Any]]:
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"APPLICATION is not valid JSON: {error}") from error
    app = _strings(parsed, ("name", "alias", "function_names"), "")
    pattern = app["function_names"]
    if set(re.findall(r"{(\w*)}", pattern)) - set(NAME_FIELDS):
        raise ConfigurationError(
            f"APPLICATION function_names is {pattern!r}; it may use {{{'}, {'.join(NAME_FIELDS)}}}"
        )
    listed = [parsed.get("functions"), parsed.get("environments")]
    if not all(isinstance(items, list) and items for items in listed):
        raise ConfigurationError("APPLICATION must list its functions and environments")
    functions: list[Function] = []
    for item in parsed["functions"]:
        values = _strings(item, ("name", "handler"), "functions[]")
        memory = values.get("memory_mb")
        if not isinstance(memory, int) or memory <= 0:
            raise ConfigurationError(f"APPLICATION function {values['name']} has no memory_mb")
        runtime, architecture = _code(values)
        layers = values.get("layers", [])
        if not isinstance(layers, list) or not all(isinstance(a, str) for a in layers):
            raise ConfigurationError(
                f"APPLICATION function {values['name']} layers is {layers!r:.80}; "
                "expected a list of layer version ARNs and release layer names"
            )
        package_type = values.get("package_type", "Zip")
        if package_type not in ("Zip", "Image"):
            raise ConfigurationError(
                f"APPLICATION function {values['name']} package_type is {package_type!r:.80}; "
                "expected Zip or Image"
            )
        functions.append(
            Function(
                values["name"],
                values["handler"],
                memory,
                runtime,
                architecture,
                tuple(layers),
                package_type,
            )
        )
    environments: list[Environment] = []
    for item in parsed["environments"]:
        values = _strings(item, ("name", "bucket"), "environments[]")
        hooks: Any = values.get("hooks", {})
        if not isinstance(hooks, dict) or any(
            event not in HOOK_EVENTS or not isinstance(function, str) or not function
            for event, function in hooks.items()
        ):
            raise ConfigurationError(
                f"APPLICATION environment {values['name']} hooks must map "
                f"{' or '.join(HOOK_EVENTS)} to function names"
            )
        targets = []
        for function in functions:
            name = pattern.format(
                application=app["name"], environment=values["name"], function=function.name
            )
            targets.append(
                Target(
                    environment=values["name"],
                    function=function.name,
                    function_name=name,
                    alias=app["alias"],
                    bucket=values["bucket"],
                    application=app["name"],
                    deployment_group=name,
                    hooks=hooks,
                    single_form="{function}" not in pattern,
                    package_type=function.package_type,
                    architecture=function.architecture,
                    layers=function.layers,
                )
            )
        role, region = _placement(values)
        own, extra, window = _gates(values)
        environments.append(
            Environment(
                values["name"], values["bucket"], tuple(targets), role, region, own, extra, window
            )
        )
    records = {key: parsed.get(key, "") for key in ("claims", "approvals")}
    if any(not isinstance(bucket, str) for bucket in records.values()):
        raise ConfigurationError("APPLICATION claims and approvals must be bucket names")
    line = parsed.get("line", {})
    if (
        not isinstance(line, dict)
        or not isinstance(line.get("parameter", ""), str)
        or not (isinstance(line.get("wait", 3600), int) and line.get("wait", 3600) > 0)
    ):
        raise ConfigurationError("APPLICATION line must name its parameter and a positive wait")
    records["line_switch"] = line.get("parameter", "")
    records |= {"line_wait": line.get("wait", 3600), "name": app["name"]}
    return tuple(functions), tuple(environments), records


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `env` (the process environment by default)."""
    env = os.environ if env is None else env
    functions, environments, records = _application(_required(env, "APPLICATION"))
    return Settings(
        application=records["name"],
        artifact_bucket=_required(env, "ARTIFACT_BUCKET"),
        test_manifest=_required(env, "TEST_MANIFEST"),
        functions=functions,
        environments=environments,
        deployment_timeout_seconds=_positive_int(env, "DEPLOYMENT_TIMEOUT_SECONDS", 3600),
        candidate_function=_required(env, "CANDIDATE_FUNCTION"),
        notification_topic=env.get("NOTIFICATION_TOPIC_ARN", ""),
        claims=records["claims"],
        approvals=records["approvals"],
        line_switch=records["line_switch"],
        line_wait=records["line_wait"],
        image_candidate_function=env.get("IMAGE_CANDIDATE_FUNCTION", ""),
        image_repository=env.get("IMAGE_REPOSITORY", ""),
    )

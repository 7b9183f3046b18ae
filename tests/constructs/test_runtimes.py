"""Functions in any Lambda runtime and either architecture, with layers: what the stack creates
for each, and the refusals, named at synth time."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from typing import Any

import pytest

from serverless_pipeline import ApplicationProps, ConfigurationError, FunctionSettings
from serverless_pipeline.application_settings import placeholder_code
from serverless_pipeline.handlers.runtimes import DEPRECATED, RUNTIMES
from tests.conftest import policy_statements, resources, statement, synth_config
from tests.single_function_config import single_function_config

# A handler of each runtime's own form (each language's "Define Lambda function handler" page
# in the Lambda developer guide).
HANDLERS = {
    "nodejs22.x": "src/api.handler",
    "nodejs24.x": "index.handler",
    "python3.12": "service.api.handler",
    "python3.13": "app.handler",
    "python3.14": "app.handler",
    "java21": "example.Orders::handleRequest",
    "java25": "example.Orders",
    "dotnet10": "Orders::Orders.Function::Handle",
    "provided.al2023": "bootstrap",
}
LAYER = "arn:aws:lambda:eu-west-1:123456789012:layer:shared-lib:3"


def config_with(**functions: FunctionSettings) -> Any:
    base = single_function_config()
    return dataclasses.replace(base, application=ApplicationProps(name="shop", functions=functions))


# One release holds one set of Python dependencies and one node_modules (the build's rule), so
# one application has one Python runtime; the others are synthesized one by one below.
MIXED = [r for r in RUNTIMES if not r.startswith("python")] + ["python3.13"]


def architecture_of(runtime: str) -> str:
    """Node.js on arm64 (one node_modules: one architecture), the rest alternating."""
    if runtime.startswith("nodejs"):
        return "arm64"
    return "arm64" if MIXED.index(runtime) % 2 else "x86_64"


@pytest.fixture(scope="module")
def every_runtime() -> dict[str, Any]:
    """One function of every runtime but two of Python's, on both architectures."""
    functions = {
        f"fn{index}": FunctionSettings(
            handler=HANDLERS[runtime],
            runtime=runtime,
            architecture=architecture_of(runtime),
            layers=(LAYER,) if runtime.startswith("nodejs") else (),
        )
        for index, runtime in enumerate(MIXED)
    }
    return synth_config(config_with(**functions))


def test_the_table_gives_every_runtime_a_handler_form() -> None:
    assert set(HANDLERS) == set(RUNTIMES)


def test_each_function_gets_its_runtime_architecture_and_layers(
    every_runtime: dict[str, Any],
) -> None:
    functions = {
        f["function_name"]: f for f in resources(every_runtime, "aws_lambda_function").values()
    }
    for index, runtime in enumerate(MIXED):
        arm = architecture_of(runtime) == "arm64"
        for environment in ("staging", "production"):
            function = functions[f"shop-fn{index}-{environment}"]
            assert function["runtime"] == runtime
            assert function["handler"] == HANDLERS[runtime]
            # Left out at Lambda's default (x86_64), as for every function before.
            assert function.get("architectures") == (["arm64"] if arm else None)
            assert function.get("layers") == ([LAYER] if runtime.startswith("nodejs") else None)


@pytest.mark.parametrize("runtime", [r for r in RUNTIMES if r.startswith("python")])
def test_each_python_runtime_synthesizes(runtime: str) -> None:
    stack = synth_config(config_with(api=FunctionSettings(handler="app.handler", runtime=runtime)))
    functions = resources(stack, "aws_lambda_function").values()
    assert [f["runtime"] for f in functions if f["function_name"].startswith("shop-api-")] == [
        runtime,
        runtime,
    ]


def test_the_candidate_starts_as_the_first_function_and_may_take_the_layers(
    every_runtime: dict[str, Any],
) -> None:
    candidate = next(
        f
        for f in resources(every_runtime, "aws_lambda_function").values()
        if f["function_name"].endswith("-candidate")
    )
    assert candidate["runtime"] == MIXED[0]
    assert candidate["handler"] == HANDLERS[MIXED[0]]
    # run_tests gives the candidate each case's layers: UpdateFunctionConfiguration with Layers
    # needs lambda:GetLayerVersion on each layer version ("Adding layers to functions").
    grant = statement(policy_statements(every_runtime, "run-tests"), "UseFunctionLayers")
    assert grant["actions"] == ["lambda:GetLayerVersion"]
    assert grant["resources"] == [LAYER]


def test_a_python_only_application_asks_for_no_layer() -> None:
    stack = synth_config(single_function_config())
    sids = [s.get("sid") for s in policy_statements(stack, "run-tests")]
    assert "UseFunctionLayers" not in sids
    for function in resources(stack, "aws_lambda_function").values():
        assert "architectures" not in function and "layers" not in function


@pytest.mark.parametrize("runtime", DEPRECATED)
def test_a_deprecated_runtime_is_refused_by_name(runtime: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config_with(api=FunctionSettings(handler="app.handler", runtime=runtime)))
    assert raised.value.problems == [
        f"functions['api'].runtime is {runtime!r}, which Lambda has deprecated; expected one "
        f"of {', '.join(RUNTIMES)}"
    ]


def test_every_wrong_setting_of_a_function_is_reported_at_once() -> None:
    config = config_with(
        api=FunctionSettings(handler="app.handler", runtime="node20"),
        web=FunctionSettings(handler="index", runtime="nodejs22.x", architecture="arm"),
        jobs=FunctionSettings(
            handler="example.Jobs:handle",
            runtime="java21",
            layers=(LAYER, LAYER, "arn:aws:lambda:eu-west-1:1:layer:x:1", *[LAYER] * 3),
        ),
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    problems = raised.value.problems
    assert f"functions['api'].runtime is 'node20'; expected one of {', '.join(RUNTIMES)}" in (
        problems
    )
    assert (
        "functions['web'].handler is 'index'; expected path/file.export, e.g. index.handler or "
        "src/api.handler (module file.js, .mjs or .cjs)"
    ) in problems
    assert "functions['web'].architecture is 'arm'; expected one of x86_64, arm64" in problems
    assert (
        "functions['jobs'].handler is 'example.Jobs:handle'; expected package.Class::method or "
        "package.Class, e.g. example.Handler::handleRequest"
    ) in problems
    assert "functions['jobs'].layers has 6 entries; Lambda allows 5" in problems
    assert any(
        p.startswith("functions['jobs'].layers item is 'arn:aws:lambda:eu-west-1:1:layer:x:1'")
        for p in problems
    )
    assert f"functions['jobs'].layers names {LAYER} more than once" in problems


def test_the_single_form_takes_a_runtime_architecture_and_layers() -> None:
    base = single_function_config()
    config = dataclasses.replace(
        base,
        application=dataclasses.replace(
            base.application,
            runtime="nodejs22.x",
            handler="index.handler",
            architecture="arm64",
            layers=(LAYER,),
        ),
    )
    functions = resources(synth_config(config), "aws_lambda_function").values()
    app = [f for f in functions if f["function_name"].startswith("orders-api-")]
    assert len(app) == 2
    for function in app:
        assert (function["runtime"], function["architectures"], function["layers"]) == (
            "nodejs22.x",
            ["arm64"],
            [LAYER],
        )


def test_settings_of_the_single_form_are_refused_beside_functions() -> None:
    config = dataclasses.replace(
        single_function_config(),
        application=ApplicationProps(
            name="shop",
            architecture="arm64",
            functions={"api": FunctionSettings(handler="app.handler")},
        ),
    )
    with pytest.raises(ConfigurationError, match="architecture is 'arm64' beside functions="):
        synth_config(config)


def test_new_functions_start_with_code_that_says_nothing_is_released() -> None:
    code = placeholder_code(
        {
            "api": FunctionSettings(handler="service.api.handler", runtime="python3.13"),
            "web": FunctionSettings(handler="src/web.handler", runtime="nodejs22.x"),
            "jobs": FunctionSettings(handler="example.Jobs", runtime="java21"),
        }
    )
    files = zipfile.ZipFile(io.BytesIO(code)).namelist()
    # A compiled runtime's function fails to start until its first release.
    assert files == ["service/api.py", "src/web.js"]


def test_a_layer_of_another_region_is_refused_for_each_place_that_runs_it() -> None:
    # "The layer and the function must be in the same AWS Region" (Lambda developer guide,
    # "Adding layers to functions"): the candidate runs in the pipeline's region, each
    # environment's functions in its own.
    far = "arn:aws:lambda:us-east-1:123456789012:layer:shared-lib:3"
    config = config_with(api=FunctionSettings(handler="app.handler", layers=(LAYER, far)))
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    assert raised.value.problems == [
        f"functions['api'].layers item {far} is in us-east-1, but the candidate function, "
        "environment 'staging', environment 'production' run the function in eu-west-1; a "
        "function takes layers from its own region only: publish the layer there, or keep "
        "the environments in one region"
    ]


def test_a_bad_application_runtime_hides_no_other_problem() -> None:
    config = dataclasses.replace(
        single_function_config(),
        application=ApplicationProps(
            name="shop",
            runtime="python3.9",
            functions={"api": FunctionSettings(handler="app.handler", architecture="sparc")},
        ),
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    assert raised.value.problems == [
        "runtime is 'python3.9', which Lambda has deprecated; expected one of "
        f"{', '.join(RUNTIMES)}",
        "functions['api'].architecture is 'sparc'; expected one of x86_64, arm64",
    ]


@pytest.mark.parametrize("handler", ["../shared/index.handler", "./index.handler", "a/../b.h"])
def test_a_nodejs_handler_outside_the_code_is_refused(handler: str) -> None:
    # Lambda's Node.js runtime refuses "." and ".." in a handler's path
    # (Runtime.MalformedHandlerName).
    function = FunctionSettings(handler=handler, runtime="nodejs22.x")
    with pytest.raises(ConfigurationError, match=r"functions\['web'\].handler is"):
        synth_config(config_with(web=function))


def config_with_release_layers(**layers: str) -> Any:
    """Two functions: the api takes the release's `common` layer before a layer given by ARN,
    the worker takes none; the build makes `layers`."""
    config = config_with(
        api=FunctionSettings(handler="app.handler", layers=("common", LAYER)),
        worker=FunctionSettings(handler="worker.handler"),
    )
    return dataclasses.replace(config, build=dataclasses.replace(config.build, layers=layers))


@pytest.fixture(scope="module")
def release_layers_stack() -> dict[str, Any]:
    return synth_config(config_with_release_layers(common="layers/common"))


def test_a_function_with_release_layers_leaves_its_layers_to_the_pipeline(
    release_layers_stack: dict[str, Any],
) -> None:
    functions = resources(release_layers_stack, "aws_lambda_function").values()
    by_name = {f["function_name"]: f for f in functions}
    for environment in ("staging", "production"):
        api, worker = by_name[f"shop-api-{environment}"], by_name[f"shop-worker-{environment}"]
        # Created with the layers Terraform knows; promote sets all of them with each release.
        assert api["layers"] == [LAYER]
        assert "layers" in api["lifecycle"]["ignore_changes"]
        assert "layers" not in worker.get("lifecycle", {}).get("ignore_changes", [])


def test_promote_and_run_tests_may_publish_the_release_layers_and_no_other(
    release_layers_stack: dict[str, Any],
) -> None:
    """Lambda authorizes PublishLayerVersion and ListLayerVersions on the layer, GetLayerVersion
    and DeleteLayerVersion on its versions (Lambda developer guide, "Resources and conditions
    for Lambda actions"); setting a function's layers takes GetLayerVersion on each."""
    for role in ("promote", "run-tests"):
        statements = policy_statements(release_layers_stack, role)
        publish = statement(statements, "PublishReleaseLayers")
        assert publish["actions"] == ["lambda:ListLayerVersions", "lambda:PublishLayerVersion"]
        [arn] = publish["resources"]
        assert arn.startswith("arn:") and arn.endswith(":layer:shop-common"), arn
        use = statement(statements, "UseReleaseLayers")
        assert use["actions"] == ["lambda:DeleteLayerVersion", "lambda:GetLayerVersion"]
        assert use["resources"] == [f"{arn}:*"]
        assert statement(statements, "UseFunctionLayers")["resources"] == [LAYER]
    promote = policy_statements(release_layers_stack, "promote")
    configure = statement(promote, "SetReleaseLayers")
    assert configure["actions"] == ["lambda:UpdateFunctionConfiguration"]
    assert len(configure["resources"]) == 2  # the api function in staging and in production
    assert all(
        r.endswith(("function:shop-api-staging", "function:shop-api-production"))
        for r in configure["resources"]
    )


@pytest.mark.parametrize(
    ("layers", "problem"),
    [
        (
            {},
            "functions['api'].layers item 'common' is no layer the build makes; expected a "
            "layer version ARN or one of build.layers (none)",
        ),
        (
            {"common": "layers/common", "vendor": "layers/vendor"},
            "build.layers['vendor'] is built with every release, but no function takes it; "
            "add it to a function's layers, or remove it",
        ),
        (
            {"common": "../common"},
            "build.layers['common'] is '../common'; expected a directory relative to the "
            "repository's root, without '..', such as 'layers/common'",
        ),
        (
            {"common": "/opt/common"},
            "build.layers['common'] is '/opt/common'; expected a directory relative to the "
            "repository's root, without '..', such as 'layers/common'",
        ),
    ],
)
def test_release_layers_are_checked_against_the_build(layers: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config_with_release_layers(**layers))
    assert problem in raised.value.problems


def test_a_release_layer_name_a_layer_cannot_have_is_refused() -> None:
    config = config_with(api=FunctionSettings(handler="app.handler", layers=("common lib",)))
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    assert (
        "functions['api'].layers item is 'common lib'; expected a layer version ARN, "
        "arn:aws:lambda:<region>:<account>:layer:<name>:<version>, or the name of a layer in "
        "BuildSettings.layers (1-64 letters, digits, '_' or '-')"
    ) in raised.value.problems

"""Rehearsing your own Node.js application: its JavaScript runs on the machine's node, and every
drill injects a real defect into a copy of it; a function this machine cannot run is refused."""

from __future__ import annotations

import importlib
import json
import uuid
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from serverless_pipeline.cli import EXIT_PROMOTED, EXIT_ROLLED_BACK, EXIT_USAGE
from serverless_pipeline.handlers import archive
from serverless_pipeline.handlers.errors import HandlerNotFound
from serverless_pipeline.layout import pipeline_layout
from serverless_pipeline.rehearsal.user_app import UserApp
from tests.rehearsal.test_node_runtime import NODE_RUNTIME, needs_node
from tests.rehearsal.test_user_app import rehearse

# Two functions: api in CommonJS with a dependency in node_modules, worker an ES module that
# imports a module of its own. A staging that deploys at once and a production canary, each
# with the library's smoke hook.
CONFIG = """
from serverless_pipeline import (
    SMOKE_TESTS, ApplicationProps, EnvironmentSettings, FunctionSettings, PipelineConfig,
)

def config():
    return PipelineConfig(
        name="shop",
        region="eu-west-1",
        application=ApplicationProps(
            name="shop",
            runtime={runtime!r},
            functions={{
                "api": FunctionSettings(handler="api.handler"),
                "worker": FunctionSettings({worker}),
            }},
            staging=EnvironmentSettings(
                "CodeDeployDefault.LambdaAllAtOnce",
                {{"STAGE": "staging"}},
                before_allow_traffic=SMOKE_TESTS,
            ),
            production=EnvironmentSettings(
                "CodeDeployDefault.LambdaCanary10Percent5Minutes",
                {{"STAGE": "production"}},
                before_allow_traffic=SMOKE_TESTS,
            ),
        ),
    )
"""
NODE_FILES = {
    "api.js": """
const { greet } = require("greeting");

exports.handler = async (event) => {
  if (event.ping) {
    return { pong: true };
  }
  return { sum: event.numbers.reduce((a, b) => a + b, 0), greeting: greet(process.env.STAGE) };
};
""",
    "node_modules/greeting/package.json": '{"name": "greeting", "main": "index.js"}',
    "node_modules/greeting/index.js": "exports.greet = (stage) => `hello from ${stage}`;\n",
    "node_modules/.cache/build-tool/state.json": '{"not": "released"}',
    "worker/index.mjs": """
import { QUEUE } from "./queue.mjs";

export const handler = async (event) => {
  if (event.healthcheck) {
    return { healthy: true };
  }
  return { processed: event.messages.length, queue: QUEUE };
};
""",
    "worker/queue.mjs": 'export const QUEUE = "orders";\n',
}
MANIFEST = {
    "cases": [
        {
            "name": "sums",
            "event": {"numbers": [1, 2, 3]},
            "expected": {"sum": 6, "greeting": "hello from candidate"},
            "stages": ["candidate"],
            "environment": {"STAGE": "candidate"},
        },
        {
            "name": "greets staging",
            "event": {"numbers": [4]},
            "expected": {"sum": 4, "greeting": "hello from staging"},
            "stages": ["staging"],
        },
        {"name": "needs numbers", "event": {}, "expected_error": "TypeError"},
        {
            "name": "answers a ping",
            "event": {"ping": True},
            "expected": {"pong": True},
            "stages": ["smoke"],
        },
        {
            "name": "worker processes a batch",
            "function": "worker",
            "event": {"messages": [1, 2]},
            "expected": {"processed": 2, "queue": "orders"},
        },
        {
            "name": "worker is healthy",
            "function": "worker",
            "event": {"healthcheck": True},
            "expected": {"healthy": True},
            "stages": ["smoke"],
        },
    ]
}


WORKER = 'handler="worker/index.handler"'


def write_app(directory: Path, files: dict[str, str], **config: str) -> str:
    """The application in `directory`/src and a config module (`config` fills in its runtime
    and the worker's FunctionSettings); returns the --config value."""
    for path, text in {**files, "release-tests.json": json.dumps(MANIFEST)}.items():
        (directory / "src" / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / "src" / path).write_text(text.lstrip())
    # A module name of its own per test: a module, once imported, stays in sys.modules.
    module = f"pipeline_{uuid.uuid4().hex[:8]}"
    settings = {"runtime": NODE_RUNTIME, "worker": WORKER, **config}
    (directory / f"{module}.py").write_text(CONFIG.format(**settings))
    return f"{module}:config"


def open_written(directory: Path, spec: str) -> UserApp:
    """The UserApp the rehearsal opens for `spec`'s config and the app in `directory`/src."""
    config = importlib.import_module(spec.partition(":")[0]).config()
    layout = pipeline_layout(config).application
    return UserApp(directory / "src", layout, config.test_manifest)


@pytest.mark.slow
@needs_node
def test_a_node_app_is_promoted_and_each_drill_rolls_back_where_aws_would_catch_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    config = write_app(tmp_path, NODE_FILES)
    kinds = ["ok", "validate", "staging-tests", "worker-staging-tests", "production-deploy"]
    code, document, _ = rehearse(
        tmp_path, monkeypatch, capsys, *kinds, "--app", "src", "--config", config, "--json"
    )
    assert code == EXIT_ROLLED_BACK
    outcomes = [
        (r["kind"], r["outcome"], r["failed_state"], r["error"]) for r in document["releases"]
    ]
    assert outcomes == [
        ("ok", "promoted", None, None),
        # validate reads the module's exports without running it: the handler is gone.
        ("validate", "rolled_back", "ValidateCode", "HandlerNotFound"),
        # Wrong answers in staging only, from the CommonJS api and then the ES module worker.
        ("staging-tests", "rolled_back", "RunTestsInStaging", "TestCasesFailed"),
        ("worker-staging-tests", "rolled_back", "RunTestsInStaging", "TestCasesFailed"),
        # Every call fails in production: the smoke hook stops the canary.
        ("production-deploy", "rolled_back", "CheckProductionDeployment", "DeploymentFailed"),
    ]
    for release in document["releases"][1:]:
        assert release["live"] == {"staging": "r2", "production": "r2"}
    assert document["functions"] == {
        "staging": {"api": "r2", "worker": "r2"},
        "production": {"api": "r2", "worker": "r2"},
    }


@pytest.mark.slow
@needs_node
def test_a_healthy_node_release_is_promoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    config = write_app(tmp_path, NODE_FILES)
    code, document, _ = rehearse(
        tmp_path, monkeypatch, capsys, "ok", "--app", "src", "--config", config, "--json"
    )
    assert code == EXIT_PROMOTED
    assert document["live"] == {"staging": "r2", "production": "r2"}


@needs_node
def test_the_release_holds_node_modules_but_not_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_app(tmp_path, NODE_FILES)
    monkeypatch.syspath_prepend(str(tmp_path))
    release = zipfile.ZipFile(BytesIO(open_written(tmp_path, config).release_zip("ok", "r2")))
    names = set(release.namelist())
    assert "node_modules/greeting/index.js" in names
    assert not [name for name in names if ".cache" in name]


@needs_node
@pytest.mark.parametrize(
    ("files", "module", "esm"),
    [
        ({"api.js": "exports.handler = async () => 1;\n"}, "api.js", False),
        ({"api.cjs": "exports.handler = async () => 1;\n"}, "api.cjs", False),
        ({"api.mjs": "export const handler = async () => 1;\n"}, "api.mjs", True),
        (
            {
                "package.json": '{"type": "module"}',
                "api.js": "export const handler = async () => 1;\n",
            },
            "api.js",
            True,
        ),
    ],
)
def test_the_validate_drill_leaves_the_module_without_its_handler(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    module: str,
    esm: bool,
) -> None:
    # An ES module or CommonJS, by its extension and package.json's "type": either way the
    # wrapper is of the same kind, validate reads its exports and finds no handler, and the
    # module itself is still in the release beside it.
    others = {k: v for k, v in NODE_FILES.items() if k != "api.js"}
    config = write_app(tmp_path, {**others, **files})
    monkeypatch.syspath_prepend(str(tmp_path))
    app = open_written(tmp_path, config)
    release = zipfile.ZipFile(BytesIO(app.release_zip("validate", "r2")))
    moved = module.replace(".", ".drill-original.")
    assert release.read(moved) == files[module].encode()
    wrapper = release.read(module).decode()
    assert wrapper.startswith("// rehearsal drill validate")
    assert ("from " in wrapper, "require(" in wrapper) == (esm, not esm)
    with pytest.raises(HandlerNotFound, match="exports no 'handler'"):
        archive.check_export(release, module, "handler")
    # Every other drill keeps the handler, in the wrapper that replaces it.
    release = zipfile.ZipFile(BytesIO(app.release_zip("staging-tests", "r2")))
    archive.check_export(release, module, "handler")


@needs_node
def test_a_node_module_that_is_not_there_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    files = {k: v for k, v in NODE_FILES.items() if k != "worker/index.mjs"}
    config = write_app(tmp_path, files)
    code, _, error = rehearse(
        tmp_path, monkeypatch, capsys, "ok", "--app", "src", "--config", config
    )
    assert code == EXIT_USAGE
    assert (
        "has no handler module for function(s) worker: handler module worker/index "
        "(worker/index.js, worker/index.mjs, worker/index.cjs) is not in the release"
    ) in error


OTHER_NODE = "nodejs24.x" if NODE_RUNTIME == "nodejs22.x" else "nodejs22.x"


@pytest.mark.parametrize(
    ("worker", "message"),
    [
        (
            'runtime="java21", handler="example.Handler::handleRequest"',
            "function worker runs java21: the rehearsal runs Python functions on this machine's "
            "Python and Node.js functions on its node, and has no java21 runtime",
        ),
        ('runtime="dotnet10", handler="Shop::Shop.Worker::Handle"', "has no dotnet10 runtime"),
        ('runtime="provided.al2023", handler="bootstrap"', "has no provided.al2023 runtime"),
        (
            f'{WORKER}, runtime="{OTHER_NODE}"',
            f"function worker runs {OTHER_NODE}: the rehearsal runs Node.js code on this "
            "machine's node, which is v",
        ),
        (
            'package_type="Image", handler="app.handler"',
            "function worker is a container image, which the rehearsal cannot run",
        ),
        (
            f'{WORKER}, layers=["arn:aws:lambda:eu-west-1:123456789012:layer:shared:3"]',
            "function worker has layers (arn:aws:lambda:eu-west-1:123456789012:layer:shared:3), "
            "whose content is in AWS and not on this machine",
        ),
    ],
)
@needs_node
def test_a_function_this_machine_cannot_run_is_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, worker: str, message: str
) -> None:
    config = write_app(tmp_path, NODE_FILES, worker=worker)
    code, _, error = rehearse(
        tmp_path, monkeypatch, capsys, "ok", "--app", "src", "--config", config
    )
    assert code == EXIT_USAGE
    assert message in error


def test_a_node_app_without_node_on_the_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    config = write_app(tmp_path, NODE_FILES, runtime="nodejs22.x")
    monkeypatch.setenv("PATH", str(tmp_path / "no-node-here"))
    code, _, error = rehearse(
        tmp_path, monkeypatch, capsys, "ok", "--app", "src", "--config", config
    )
    assert code == EXIT_USAGE
    assert "function api runs nodejs22.x: the rehearsal runs Node.js code on this machine's " in (
        error
    )
    assert "there is no node on PATH; install Node.js 22" in error

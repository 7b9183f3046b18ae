"""Which way imports point: the handlers and the emulator run where only boto3 is installed
(inside Lambda, in a light test environment), without an engine (cdktf or CDK Terrain), jsii or
a Node.js kernel; and only serverless_pipeline/engine.py names the engine."""

from __future__ import annotations

import ast
import importlib.util
import io
import subprocess
import sys
import zipfile
from pathlib import Path

from serverless_pipeline.assets import handlers_package
from serverless_pipeline.naming import HANDLER_NAMES

ROOT = Path(__file__).resolve().parents[1]
# boto3 and what it imports: the whole of a Lambda function's third-party world.
BOTO3 = ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "urllib3", "six")


def boto3_only(tmp_path: Path) -> Path:
    """A directory holding only boto3 and its dependencies, linked from this environment."""
    site = tmp_path / "site"
    site.mkdir()
    for name in BOTO3:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (site / source.name).symlink_to(source)
    return site


def test_handlers_import_with_boto3_alone(tmp_path: Path) -> None:
    code = (
        f"import sys; sys.path[:0] = [{str(boto3_only(tmp_path))!r}, {str(ROOT)!r}]\n"
        "import importlib.util\n"
        "assert not [e for e in ('cdktf', 'cdktn') if importlib.util.find_spec(e)]\n"
        "import serverless_pipeline.handlers.promote, serverless_pipeline.handlers.run_tests\n"
        "import serverless_pipeline.handlers.rollback, serverless_pipeline.handlers.approval\n"
        "import serverless_pipeline.handlers.validate, serverless_pipeline.handlers.traffic_hook\n"
        "engine = {'jsii', 'constructs', 'cdktf', 'cdktn'}\n"
        "assert not engine & set(sys.modules), sorted(sys.modules)\n"
    )
    # -S: no site-packages, so nothing but the standard library and the two paths above.
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_importing_the_package_starts_no_kernel() -> None:
    # The configuration, the rehearsal and the emulator are plain Python: only the constructs
    # need cdktf and start the jsii kernel.
    code = (
        "import sys, serverless_pipeline, serverless_pipeline.emulator.lambda_runtime\n"
        "import serverless_pipeline.rehearsal.runner, serverless_pipeline.example\n"
        "import serverless_pipeline.cli\n"
        "assert 'jsii' not in sys.modules and 'constructs' not in sys.modules\n"
        "from serverless_pipeline import ServerlessPipelineStack\n"
        "assert 'jsii' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def _imports(path: Path) -> list[str]:
    """The absolute module names path imports."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


def test_only_the_seam_names_the_engine() -> None:
    # The constructs, the apps and the tests take the engine from serverless_pipeline.engine, so
    # that one choice holds for all of them; in the package, only the constructs use jsii.
    engines = {"cdktf", "cdktn", "cdktf_cdktf_provider_aws", "cdktn_provider_aws"}
    package = ROOT / "serverless_pipeline"
    sources = [
        *sorted(package.rglob("*.py")),
        ROOT / "main.py",
        *sorted((ROOT / "examples").rglob("*.py")),
        *sorted((ROOT / "tests").rglob("*.py")),
    ]
    offenders = []
    for path in sources:
        if path == package / "engine.py":
            continue
        forbidden = set(engines)
        if path.is_relative_to(package) and path.parent.name != "constructs":
            forbidden |= {"constructs", "jsii"}
        offenders += [
            f"{path.relative_to(ROOT)}: {name}"
            for name in _imports(path)
            if name.split(".")[0] in forbidden
        ]
    assert offenders == []


def test_the_lambda_package_imports_as_lambda_imports_it(tmp_path: Path) -> None:
    # Lambda unpacks handlers.zip and imports `handlers.<name>` with boto3 alone: a handler that
    # reached for the rest of serverless_pipeline would import here only by accident.
    code = tmp_path / "task"
    zipfile.ZipFile(io.BytesIO(handlers_package())).extractall(code)
    names = ", ".join(f"handlers.{name}" for name in (*HANDLER_NAMES, "traffic_hook"))
    script = (
        f"import sys; sys.path[:0] = [{str(code)!r}, {str(boto3_only(tmp_path))!r}]\n"
        f"import {names}\n"
        "assert not [m for m in sys.modules if m.startswith('serverless_pipeline')]\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr

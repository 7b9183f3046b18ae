"""The build of each runtime's language. Node.js, npm, Python and pip are real here: their
projects are built by the generated buildspec's own commands, in bash as CodeBuild runs them,
with a stand-in `aws` that records the upload. Maven's plugins, Gradle, Go, cargo lambda and
.NET cannot run offline here: stand-ins leave what those tools leave, so the commands around
them (where each output goes, the bootstrap's executable bit) still run for real, and their
commands and flags are checked as generated."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from serverless_pipeline import BuildSettings, defaults
from serverless_pipeline.build_settings import (
    CODEBUILD_IMAGES,
    CODEBUILD_RUNTIMES,
    PYTHON_INSTALL,
    CodeBuildImage,
    build_architecture,
    build_image,
    buildspec,
    environment_type,
    unit_tests,
    validate_build,
)
from serverless_pipeline.handlers import runtimes
from serverless_pipeline.handlers.events import RELEASE_KEY, parse_release
from serverless_pipeline.validation import Problems

Functions = Sequence[tuple[str, str]]
PYTHON = [("python3.13", "x86_64")]
ENVIRONMENT = {
    "ARTIFACT_BUCKET": "orders-artifacts",
    "SOURCE_DIR": "src",
    "TEST_MANIFEST": "release-tests.json",
    "RELEASE_ID": "execution-1",
}
MANIFEST = '{"cases": []}'
# `touch -d @315532800` in UTC, as zip stores it (CodeBuild runs in UTC).
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def spec(settings: BuildSettings, functions: Functions) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(buildspec(settings, functions))
    return parsed


def commands(settings: BuildSettings, functions: Functions, phase: str) -> list[str]:
    phases = json.loads(buildspec(settings, functions))["phases"]
    found: list[str] = phases.get(phase, {}).get("commands", [])
    return found


def versions(settings: BuildSettings, functions: Functions) -> dict[str, str]:
    found: dict[str, str] = json.loads(buildspec(settings, functions))["phases"]["install"][
        "runtime-versions"
    ]
    return found


def problems(settings: BuildSettings, functions: Functions) -> list[str]:
    found = Problems("DeployPipeline")
    validate_build(found, settings, functions)
    return found.items


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def tools(root: Path, **bodies: str) -> Path:
    """A bin directory of stand-ins that record each call in $TOOL_CALLS: `aws` prints a
    version id as put-object does, the others run their body."""
    bin_dir = root / "tools"
    bin_dir.mkdir()
    for name, body in {"aws": "echo version-1\n", **bodies}.items():
        executable(bin_dir / name, f'#!/bin/bash\necho "{name} $*" >> "$TOOL_CALLS"\n{body}')
    return bin_dir


def run_build(
    built: str, project: Path, path: Sequence[Path], home: Path
) -> subprocess.CompletedProcess[str]:
    """Every command of every phase in one bash, in phase order, stopping at the first that
    fails: what CodeBuild does with a version 0.2 buildspec."""
    phases = json.loads(built)["phases"]
    script = "\n".join(
        f'{command}\ncode=$?; if [ "$code" -ne 0 ]; then exit "$code"; fi'
        for phase in ("install", "pre_build", "build")
        for command in phases.get(phase, {}).get("commands", [])
    )
    env = {
        **ENVIRONMENT,
        "PATH": os.pathsep.join([*map(str, path), os.environ["PATH"]]),
        "HOME": str(home),
        "TZ": "UTC",
        "TOOL_CALLS": str(home / "calls"),
        "npm_config_cache": str(home / "npm"),
        "npm_config_offline": "true",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
        "npm_config_update_notifier": "false",
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    return subprocess.run(
        ["bash", "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def build_twice(
    built: str, project: Path, path: Sequence[Path], home: Path
) -> dict[str, zipfile.ZipInfo]:
    """Builds the project, and a copy of it in another directory (CodeBuild checks each source
    out somewhere new); both builds succeed and give the same zip, whose entries (name -> info)
    are returned after the checks every release passes."""
    again = project.with_name(f"{project.name}-again")
    shutil.copytree(project, again, symlinks=True)
    zips = []
    for checkout in (again, project):
        done = run_build(built, checkout, path, home)
        assert done.returncode == 0, done.stdout + done.stderr
        zips.append((checkout / "release.zip").read_bytes())
    assert zips[0] == zips[1]
    release = json.loads((project / "release.json").read_text())["release"]
    key = RELEASE_KEY.format(release_id="execution-1")
    assert release == {
        "id": "execution-1",
        "bucket": "orders-artifacts",
        "key": key,
        "sha256": hashlib.sha256(zips[0]).hexdigest(),
        "version_id": "version-1",
    }
    uploads = [c for c in (home / "calls").read_text().splitlines() if c.startswith("aws ")]
    assert (
        uploads
        == [
            f"aws s3api put-object --bucket orders-artifacts --key {key} --body release.zip "
            "--query VersionId --output text"
        ]
        * 2
    )
    with zipfile.ZipFile(project / "release.zip") as archive:
        entries = {info.filename: info for info in archive.infolist()}
    assert list(entries) == sorted(entries)
    assert {info.date_time for info in entries.values()} == {FIXED_TIME}
    assert "release-tests.json" in entries
    return entries


def mode(info: zipfile.ZipInfo) -> int:
    return (info.external_attr >> 16) & 0o777


def tarball(path: Path, name: str, files: dict[str, str]) -> None:
    """An npm package tarball (package/...), the form `npm pack` gives."""
    contents = {"package.json": json.dumps({"name": name, "version": "1.0.0"}), **files}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for file, text in contents.items():
            data = text.encode()
            info = tarfile.TarInfo(f"package/{file}")
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())


def node_project(project: Path, home: Path) -> None:
    """An application's Node.js part: a handler in lib/ that the build script writes into src/
    with a devDependency, a production dependency, and unit tests that use both."""
    (project / "vendor").mkdir(parents=True)
    tarball(
        project / "vendor" / "leftpad-1.0.0.tgz",
        "leftpad",
        {"index.js": "module.exports = (s, n) => String(s).padStart(n, '0');\n"},
    )
    tarball(
        project / "vendor" / "devtool-1.0.0.tgz",
        "devtool",
        {"index.js": "exports.banner = () => '// built for Lambda\\n';\n"},
    )
    package = {
        "name": "orders",
        "version": "1.0.0",
        "private": True,
        "scripts": {"test": "node --test test/notifier.test.js", "build": "node build.js"},
        "dependencies": {"leftpad": "file:vendor/leftpad-1.0.0.tgz"},
        "devDependencies": {"devtool": "file:vendor/devtool-1.0.0.tgz"},
    }
    (project / "package.json").write_text(json.dumps(package, indent=2))
    (project / "lib").mkdir()
    (project / "lib" / "notifier.js").write_text(
        "const leftpad = require('leftpad');\n"
        "exports.handler = async (event) => ({ id: leftpad(event.id, 3) });\n"
    )
    (project / "build.js").write_text(
        "const fs = require('fs');\nconst { banner } = require('devtool');\n"
        "fs.writeFileSync('src/notifier.js', banner() + fs.readFileSync('lib/notifier.js'));\n"
    )
    (project / "test").mkdir()
    (project / "test" / "notifier.test.js").write_text(
        "const test = require('node:test');\nconst assert = require('node:assert');\n"
        "const { banner } = require('devtool');\nconst { handler } = require('../lib/notifier');\n"
        "test('pads the order id', async () => {\n"
        "  assert.deepStrictEqual(await handler({ id: '7' }), { id: '007' });\n"
        "  assert.ok(banner());\n});\n"
    )
    (project / "src").mkdir(exist_ok=True)
    (project / "src" / "release-tests.json").write_text(MANIFEST)
    locked = subprocess.run(
        ["npm", "install", "--package-lock-only", "--offline", "--no-audit", "--no-fund"],
        cwd=project,
        env={**os.environ, "HOME": str(home), "npm_config_cache": str(home / "npm")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert locked.returncode == 0, locked.stderr


def wheel(path: Path) -> None:
    """tinylib 1.0, a pure-Python wheel made by hand, so pip installs it without an index."""
    files = {
        "tinylib/__init__.py": b"def shout(text):\n    return text.upper()\n",
        "tinylib-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinylib\nVersion: 1.0\n",
        "tinylib-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }

    def digest(data: bytes) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join(f"{name},sha256={digest(data)},{len(data)}\n" for name, data in files.items())
    files["tinylib-1.0.dist-info/RECORD"] = (record + "tinylib-1.0.dist-info/RECORD,,\n").encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def python_environment(root: Path) -> Path:
    """The bin directory of a fresh environment whose python imports pytest from this
    project's and whose pip installs into the fresh one: the build's pip never touches the
    project's own environment."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "project.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    executable(venv / "bin" / "pip", f'#!/bin/sh\nexec "{venv}/bin/python" -m pip "$@"\n')
    return venv / "bin"


def python_project(project: Path, wheels: Path) -> None:
    """An application's Python part: a handler, a requirement (from `wheels`, as if from an
    index) and a unit test."""
    wheels.mkdir()
    wheel(wheels / "tinylib-1.0-py3-none-any.whl")
    (project / "requirements.txt").write_text(f"--find-links {wheels}\ntinylib==1.0\n")
    (project / "src").mkdir(exist_ok=True)
    (project / "src" / "release-tests.json").write_text(MANIFEST)
    (project / "src" / "app.py").write_text(
        "import tinylib\n\n\ndef handler(event, context):\n"
        "    return {'order': tinylib.shout(event['order'])}\n"
    )
    (project / "tests").mkdir()
    (project / "tests" / "test_app.py").write_text(
        "import sys\nfrom pathlib import Path\n\n"
        "sys.path.insert(0, str(Path(__file__).parents[1] / 'src'))\n\n"
        "from app import handler\n\n\ndef test_shouts():\n"
        "    assert handler({'order': 'a1'}, None) == {'order': 'A1'}\n"
    )


def extract(project: Path, into: Path) -> Path:
    with zipfile.ZipFile(project / "release.zip") as archive:
        archive.extractall(into)
    return into


# Real builds: Node.js and Python.


@pytest.mark.slow
def test_nodejs_release_holds_the_built_output_and_production_dependencies(
    tmp_path: Path,
) -> None:
    project, home = tmp_path / "repo", tmp_path / "home"
    home.mkdir()
    node_project(project, home)
    built = buildspec(BuildSettings(), [("nodejs22.x", "x86_64")])
    entries = build_twice(built, project, [tools(tmp_path)], home)
    assert "notifier.js" in entries  # the build script's output
    assert "node_modules/leftpad/index.js" in entries
    assert "package.json" in entries
    assert not [name for name in entries if "devtool" in name]  # pruned: a devDependency
    assert not [name for name in entries if name.startswith(("lib/", "test/", "build.js"))]
    release = extract(project, tmp_path / "release")
    assert (release / "notifier.js").read_text().startswith("// built for Lambda")
    ran = subprocess.run(
        ["node", "-e", "require('./notifier').handler({id: '7'}).then(r => console.log(r.id))"],
        cwd=release,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout == "007\n"


@pytest.mark.slow
def test_python_and_nodejs_functions_ship_in_one_release(tmp_path: Path) -> None:
    project, home = tmp_path / "repo", tmp_path / "home"
    home.mkdir()
    node_project(project, home)
    python_project(project, tmp_path / "wheels")
    built = buildspec(BuildSettings(), [("python3.13", "x86_64"), ("nodejs22.x", "x86_64")])
    entries = build_twice(built, project, [tools(tmp_path), python_environment(tmp_path)], home)
    assert {"app.py", "tinylib/__init__.py", "notifier.js", "node_modules/leftpad/index.js"} <= (
        set(entries)
    )
    # No bytecode: pip's would name its temporary directory and differ from build to build.
    assert not [name for name in entries if name.endswith(".pyc")]
    assert not [name for name in entries if name.startswith(("tests/", "vendor/", "lib/"))]
    release = extract(project, tmp_path / "release")
    ran = subprocess.run(
        [sys.executable, "-c", "import app; print(app.handler({'order': 'a1'}, None))"],
        cwd=release,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout == "{'order': 'A1'}\n"


@pytest.mark.slow
def test_layers_are_zipped_reproducibly_beside_the_release_and_named_in_it(
    tmp_path: Path,
) -> None:
    """The build's command fills the layer's directory (a library installed into python/, as
    Lambda's layout wants it); each checkout gives the same layer zip, uploaded beside the
    release's and named in release.json with its checksum and object version."""
    project, home, wheels = tmp_path / "repo", tmp_path / "home", tmp_path / "wheels"
    home.mkdir()
    project.mkdir()
    python_project(project, wheels)
    (project / "layers" / "common" / "python").mkdir(parents=True)
    (project / "layers" / "common" / "python" / "common.py").write_text("GREETING = 'hi'\n")
    settings = BuildSettings(
        layers={"common": "layers/common"},
        build_command="pip install --quiet --no-index --find-links "
        f"{wheels} tinylib==1.0 -t layers/common/python",
    )
    built = buildspec(settings, PYTHON)
    path = [tools(tmp_path), python_environment(tmp_path)]
    again = project.with_name("repo-again")
    shutil.copytree(project, again, symlinks=True)
    layers = []
    for checkout in (again, project):
        done = run_build(built, checkout, path, home)
        assert done.returncode == 0, done.stdout + done.stderr
        layers.append((checkout / ".layers" / "common.zip").read_bytes())
    assert layers[0] == layers[1]
    release = json.loads((project / "release.json").read_text())["release"]
    key = "releases/execution-1/layers/common.zip"
    assert release["layers"] == {
        "common": {
            "key": key,
            "sha256": hashlib.sha256(layers[0]).hexdigest(),
            "version_id": "version-1",
        }
    }
    # The state machine's input is what the handlers parse.
    assert parse_release({"release": release}).layers["common"].key == key
    uploads = [c for c in (home / "calls").read_text().splitlines() if c.startswith("aws ")]
    assert uploads[1] == (
        f"aws s3api put-object --bucket orders-artifacts --key {key} --body .layers/common.zip "
        "--query VersionId --output text"
    )
    with zipfile.ZipFile(project / ".layers" / "common.zip") as archive:
        names = [info.filename for info in archive.infolist()]
        assert {info.date_time for info in archive.infolist()} == {FIXED_TIME}
    assert names == sorted(names)
    assert {"python/common.py", "python/tinylib/__init__.py"} <= set(names)
    assert not [name for name in names if name.endswith(".pyc")]
    # The layer is not in the release's zip: the functions get it as a layer.
    with zipfile.ZipFile(project / "release.zip") as archive:
        assert not [n for n in archive.namelist() if n.startswith(("layers/", "python/"))]


def test_a_layer_without_its_directory_fails_the_build_naming_it(tmp_path: Path) -> None:
    project, home = tmp_path / "repo", tmp_path / "home"
    home.mkdir()
    (project / "src").mkdir(parents=True)
    (project / "src" / "release-tests.json").write_text(MANIFEST)
    settings = BuildSettings(
        layers={"vendor": "layers/vendor"}, install_command="true", unit_test_command="true"
    )
    done = run_build(buildspec(settings, PYTHON), project, [tools(tmp_path)], home)
    assert done.returncode != 0
    assert "The layer vendor needs its directory layers/vendor (BuildSettings.layers)" in (
        done.stderr
    )


@pytest.mark.slow
def test_required_unit_tests_fail_a_nodejs_build_without_a_test_script(tmp_path: Path) -> None:
    project, home = tmp_path / "repo", tmp_path / "home"
    home.mkdir()
    project.mkdir()
    (project / "package.json").write_text('{"name": "orders", "version": "1.0.0"}')
    (project / "package-lock.json").write_text(
        '{"name": "orders", "version": "1.0.0", "lockfileVersion": 3, "requires": true, '
        '"packages": {"": {"name": "orders", "version": "1.0.0"}}}'
    )
    (project / "src").mkdir()
    (project / "src" / "release-tests.json").write_text(MANIFEST)
    functions = [("nodejs22.x", "x86_64")]
    bin_dir = tools(tmp_path)
    required = buildspec(BuildSettings(require_unit_tests=True), functions)
    done = run_build(required, project, [bin_dir], home)
    assert done.returncode != 0
    assert 'Missing script: "test"' in done.stderr
    assert not (home / "calls").exists()  # nothing uploaded
    # Not required, the same repository builds: npm test --if-present passes over it.
    assert (
        run_build(buildspec(BuildSettings(), functions), project, [bin_dir], home).returncode == 0
    )


# Stand-in toolchains: the commands around Maven, Go, cargo lambda and .NET, run for real.

MAVEN = """args="$*"
case "$args" in
  "-B -q package") mkdir -p target/classes/example \\
    && printf 'class' > target/classes/example/Handler.class \\
    && printf 'greeting=hi' > target/classes/app.properties ;;
  *dependency:copy-dependencies*) out="${args##*-DoutputDirectory=}" && mkdir -p "$out" \\
    && cp vendor/*.jar "$out"/ ;;
esac
"""
GO = """echo "GOOS=$GOOS GOARCH=$GOARCH CGO_ENABLED=$CGO_ENABLED" >> "$TOOL_CALLS"
if [ "$1" = build ]; then printf 'ELF' > bootstrap && chmod 644 bootstrap; fi
"""
CARGO = """if [ "$1 $2" = "lambda build" ]; then for binary in {binaries}; do
  mkdir -p "target/lambda/$binary" && printf 'ELF' > "target/lambda/$binary/bootstrap"; done; fi
"""
DOTNET = """if [ "$1" = publish ]; then
  while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
  mkdir -p "$out" && printf 'MZ' > "$out/Orders.dll" && printf '{}' > "$out/Orders.deps.json"
fi
"""


def stand_in_build(
    tmp_path: Path, functions: Functions, files: dict[str, str], **stubs: str
) -> tuple[dict[str, zipfile.ZipInfo], list[str]]:
    """Builds a repository of `files` (the test manifest added) with stand-ins for the
    language's tools; returns the release's entries and the tools' calls (one build's)."""
    project, home = tmp_path / "repo", tmp_path / "home"
    home.mkdir()
    for name, text in {"src/release-tests.json": MANIFEST, **files}.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    entries = build_twice(
        buildspec(BuildSettings(), functions), project, [tools(tmp_path, **stubs)], home
    )
    calls = (home / "calls").read_text().splitlines()
    return entries, [call for call in calls[: len(calls) // 2] if not call.startswith("aws ")]


@pytest.mark.slow
def test_maven_release_has_the_classes_at_the_root_and_the_dependencies_in_lib(
    tmp_path: Path,
) -> None:
    entries, calls = stand_in_build(
        tmp_path,
        [("java21", "x86_64")],
        {"pom.xml": "<project/>", "vendor/commons-lang3-3.17.0.jar": "jar"},
        mvn=MAVEN,
    )
    assert {"example/Handler.class", "app.properties", "lib/commons-lang3-3.17.0.jar"} <= set(
        entries
    )
    assert calls == [
        "mvn -B -q package",
        "mvn -B -q dependency:copy-dependencies -DincludeScope=runtime "
        "-DoutputDirectory=.release/lib",
    ]


@pytest.mark.slow
def test_gradle_gets_the_release_layout_from_an_init_script(tmp_path: Path) -> None:
    # The stand-in shows the init script it was given; Gradle itself is not here to run it.
    gradle = 'if [ "$1" = --init-script ]; then cat "$2" >> "$TOOL_CALLS"; fi\n'
    _, calls = stand_in_build(
        tmp_path, [("java21", "x86_64")], {"build.gradle.kts": ""}, gradle=gradle
    )
    assert calls[0] == "gradle build"
    assert calls[1].startswith("gradle --init-script /") and calls[1].endswith(" lambdaRelease")
    assert calls[2] == (
        "rootProject { plugins.withId('java') { tasks.register('lambdaRelease', Copy) { "
        "from project.sourceSets.main.output; "
        "into('lib') { from project.configurations.runtimeClasspath }; into '.release' } } }"
    )


@pytest.mark.slow
def test_a_wrapper_runs_gradle_when_the_repository_has_one(tmp_path: Path) -> None:
    files = {"build.gradle": "", "gradlew": 'echo "gradlew $*" >> "$TOOL_CALLS"\n'}
    _, calls = stand_in_build(tmp_path, [("java21", "x86_64")], files)
    assert calls[0] == "gradlew build"
    assert calls[1].startswith("gradlew --init-script /")


@pytest.mark.slow
def test_go_builds_one_executable_bootstrap_for_the_functions_architecture(
    tmp_path: Path,
) -> None:
    entries, calls = stand_in_build(
        tmp_path,
        [("provided.al2023", "arm64"), ("provided.al2023", "arm64")],
        {"go.mod": "module orders\n"},
        go=GO,
    )
    assert mode(entries["bootstrap"]) == 0o755  # the stand-in left it 644
    assert calls == [
        "go test ./...",
        "GOOS= GOARCH= CGO_ENABLED=",
        "go build -trimpath -tags lambda.norpc -o bootstrap",
        "GOOS=linux GOARCH=arm64 CGO_ENABLED=0",
    ]


@pytest.mark.slow
def test_rust_builds_with_cargo_lambda_for_the_functions_architecture(tmp_path: Path) -> None:
    entries, calls = stand_in_build(
        tmp_path,
        [("provided.al2023", "x86_64")],
        {"Cargo.toml": "[package]\nname = 'orders'\n"},
        cargo=CARGO.format(binaries="orders"),
        rustup="",
        pip="",
    )
    assert mode(entries["bootstrap"]) == 0o755
    assert calls == [
        "rustup default",
        "pip install -q cargo-lambda>=1,<2",
        "cargo test",
        "cargo lambda build --release --x86-64",
    ]


@pytest.mark.slow
def test_rust_with_several_binaries_is_refused_naming_them(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="built target/lambda/admin/bootstrap target/"):
        stand_in_build(
            tmp_path,
            [("provided.al2023", "x86_64")],
            {"Cargo.toml": ""},
            cargo=CARGO.format(binaries="orders admin"),
            rustup="",
            pip="",
        )


@pytest.mark.slow
def test_provided_functions_without_go_or_rust_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="need a go.mod or Cargo.toml"):
        stand_in_build(tmp_path, [("provided.al2023", "x86_64")], {}, cargo="")


@pytest.mark.slow
def test_dotnet_publishes_into_the_release_root(tmp_path: Path) -> None:
    entries, calls = stand_in_build(
        tmp_path, [("dotnet10", "x86_64")], {"Orders.csproj": "<Project/>"}, dotnet=DOTNET
    )
    assert {"Orders.dll", "Orders.deps.json"} <= set(entries)
    assert calls == [
        "dotnet test",
        "dotnet publish -c Release -r linux-x64 --self-contained false "
        "-p:ContinuousIntegrationBuild=true -o .publish",
    ]


# The generated buildspec: commands, runtime-versions, image and architecture.


def test_a_python_application_builds_as_it_always_has() -> None:
    settings = BuildSettings()
    built = spec(settings, PYTHON)
    assert built["env"] == {"shell": "bash"}
    assert built["artifacts"] == {"files": ["release.json"]}
    assert versions(settings, PYTHON) == {"python": "3.13"}
    assert commands(settings, PYTHON, "install") == [PYTHON_INSTALL]
    assert commands(settings, PYTHON, "pre_build") == [unit_tests(settings)]
    assert commands(settings, PYTHON, "build")[:4] == [
        "rm -rf .release release.zip && mkdir .release",
        'cp -R "$SOURCE_DIR"/. .release/',
        "if [ -f requirements.txt ]; then pip install -q -r requirements.txt -t .release; fi",
        "find .release -name __pycache__ -type d -prune -exec rm -rf {} +",
    ]
    assert build_image(settings, PYTHON) == defaults.BUILD_IMAGE
    assert environment_type(settings, PYTHON) == "LINUX_CONTAINER"
    assert buildspec(settings, PYTHON * 3) == buildspec(settings, PYTHON)


def test_every_runtime_has_its_codebuild_runtime_version() -> None:
    assert set(CODEBUILD_RUNTIMES) == set(runtimes.RUNTIMES)
    wanted = {
        "python3.12": {"python": "3.12"},
        "python3.13": {"python": "3.13"},
        "python3.14": {"python": "3.14"},
        "nodejs22.x": {"nodejs": "22"},
        "nodejs24.x": {"nodejs": "24"},
        "java21": {"java": "corretto21"},
        "java25": {"java": "corretto25"},
        "dotnet10": {"dotnet": "10.0"},
        "provided.al2023": {"golang": defaults.BUILD_GO_VERSION},
    }
    for runtime, expected in wanted.items():
        assert versions(BuildSettings(), [(runtime, "x86_64")]) == expected


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_the_default_images_build_every_runtime(architecture: str) -> None:
    for runtime in runtimes.RUNTIMES:
        assert problems(BuildSettings(), [(runtime, architecture)]) == []


def test_each_language_present_adds_its_runtime_version_once() -> None:
    functions = [
        ("dotnet10", "x86_64"),
        ("java25", "x86_64"),
        ("java21", "x86_64"),
        ("nodejs24.x", "x86_64"),
        ("nodejs22.x", "x86_64"),
        ("python3.12", "x86_64"),
        ("provided.al2023", "x86_64"),
    ]
    # In the build's order; a language of two runtimes builds with the older, whose output
    # runs on both.
    assert list(versions(BuildSettings(), functions).items()) == [
        ("python", "3.12"),
        ("nodejs", "22"),
        ("java", "corretto21"),
        ("dotnet", "10.0"),
        ("golang", defaults.BUILD_GO_VERSION),
    ]
    assert versions(BuildSettings(python_version="3.12"), functions)["python"] == "3.12"


def test_each_language_runs_its_own_install_tests_and_build() -> None:
    settings = BuildSettings()
    functions = [
        ("nodejs22.x", "x86_64"),
        ("java21", "x86_64"),
        ("dotnet10", "x86_64"),
        ("provided.al2023", "x86_64"),
    ]
    install = commands(settings, functions, "install")
    assert install[0] == "if [ -f package.json ]; then npm ci; fi"
    assert install[1].startswith("if [ -f Cargo.toml ] && [ ! -f go.mod ]; then ")
    assert "pip install -q 'cargo-lambda>=1,<2'" in install[1]
    assert commands(settings, functions, "pre_build") == [
        "if [ -f package.json ]; then npm test --if-present; fi",
        "dotnet test",
        "if [ -f go.mod ]; then go test ./...; else cargo test; fi",
    ]
    build = commands(settings, functions, "build")
    assert build[0] == "if [ -f package.json ]; then npm run build --if-present; fi"
    assert build[1].startswith("if [ -f pom.xml ]; then mvn -B -q package; elif ")
    assert build[2] == (
        "dotnet publish -c Release -r linux-x64 --self-contained false "
        "-p:ContinuousIntegrationBuild=true -o .publish"
    )
    assert build[3] == (
        "if [ -f go.mod ]; then GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -trimpath "
        "-tags lambda.norpc -o bootstrap; else cargo lambda build --release --x86-64; fi"
    )
    assert build[4] == "rm -rf .release release.zip && mkdir .release"


def test_java_only_needs_no_install_or_test_phase_of_its_own() -> None:
    phases = json.loads(buildspec(BuildSettings(), [("java21", "arm64")]))["phases"]
    assert phases["install"] == {"runtime-versions": {"java": "corretto21"}}
    assert "pre_build" not in phases


def test_commands_the_settings_give_replace_every_languages_own() -> None:
    settings = BuildSettings(
        install_command="make deps",
        unit_test_command="make test",
        build_command="make release",
        require_unit_tests=True,
    )
    functions = [("python3.13", "x86_64"), ("nodejs22.x", "x86_64"), ("java21", "x86_64")]
    assert commands(settings, functions, "install") == ["make deps"]
    assert commands(settings, functions, "pre_build") == ["make test"]
    build = commands(settings, functions, "build")
    assert build[:2] == ["make release", "rm -rf .release release.zip && mkdir .release"]
    # Packaging still collects each language's output from where its own build leaves it.
    assert any(
        command.startswith("if [ -f pom.xml ]; then cp -R target/classes/.") for command in build
    )
    # Not set, the unit test command stays the Python default's, each language its own.
    assert commands(BuildSettings(build_command="make"), functions, "pre_build")[1] == (
        "if [ -f package.json ]; then npm test --if-present; fi"
    )


def test_required_unit_tests_make_a_missing_test_script_fail() -> None:
    settings = BuildSettings(require_unit_tests=True)
    assert commands(settings, [("nodejs22.x", "x86_64")], "pre_build") == [
        "if [ -f package.json ]; then npm test; fi"
    ]


def test_every_function_on_arm64_builds_on_the_arm_image() -> None:
    functions = [("python3.13", "arm64"), ("provided.al2023", "arm64"), ("dotnet10", "arm64")]
    settings = BuildSettings()
    assert build_image(settings, functions) == defaults.BUILD_IMAGE_ARM
    assert environment_type(settings, functions) == "ARM_CONTAINER"
    build = " ".join(commands(settings, functions, "build"))
    assert "GOARCH=arm64" in build and "cargo lambda build --release --arm64" in build
    assert "-r linux-arm64" in build
    # Python's dependencies are built where they run: no platform flags.
    assert "pip install -q -r requirements.txt -t .release; fi" in build


def test_a_mixed_application_builds_on_x86_64_and_cross_builds_for_arm64() -> None:
    functions = [("python3.13", "arm64"), ("provided.al2023", "arm64"), ("java21", "x86_64")]
    settings = BuildSettings()
    assert build_image(settings, functions) == defaults.BUILD_IMAGE
    assert environment_type(settings, functions) == "LINUX_CONTAINER"
    build = " ".join(commands(settings, functions, "build"))
    assert "GOARCH=arm64 CGO_ENABLED=0" in build
    assert "cargo lambda build --release --arm64" in build
    assert (
        "pip install -q -r requirements.txt -t .release --platform manylinux_2_34_aarch64 "
        "--platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 --only-binary=:all:; "
        "fi"
    ) in build
    assert problems(settings, functions) == []


def test_nodejs_functions_choose_the_build_machine() -> None:
    # npm builds native modules only for the machine it runs on: the Node.js functions'.
    functions = [("nodejs22.x", "arm64"), ("python3.13", "x86_64")]
    settings = BuildSettings()
    assert build_architecture(settings, functions) == "arm64"
    assert build_image(settings, functions) == defaults.BUILD_IMAGE_ARM
    assert (
        "pip install -q -r requirements.txt -t .release --platform manylinux_2_34_x86_64 "
        "--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --only-binary=:all:; fi"
    ) in " ".join(commands(settings, functions, "build"))
    assert problems(settings, functions) == []


def test_dotnet_functions_of_both_architectures_get_the_portable_publish() -> None:
    build = commands(BuildSettings(), [("dotnet10", "x86_64"), ("dotnet10", "arm64")], "build")
    assert build[0] == (
        "dotnet publish -c Release --self-contained false -p:ContinuousIntegrationBuild=true "
        "-o .publish"
    )


def test_a_named_image_decides_the_architecture_when_this_library_knows_it() -> None:
    arm = BuildSettings(image="aws/codebuild/amazonlinux-aarch64-standard:4.0")
    assert environment_type(arm, PYTHON) == "ARM_CONTAINER"
    assert build_image(arm, PYTHON) == "aws/codebuild/amazonlinux-aarch64-standard:4.0"
    custom = BuildSettings(image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/builder:7")
    assert environment_type(custom, PYTHON) == "LINUX_CONTAINER"
    assert environment_type(custom, [("python3.13", "arm64")]) == "ARM_CONTAINER"
    forced = BuildSettings(image=custom.image, architecture="arm64")
    assert environment_type(forced, PYTHON) == "ARM_CONTAINER"
    assert problems(forced, PYTHON) == []
    assert all(image.architecture in runtimes.ARCHITECTURES for image in CODEBUILD_IMAGES.values())


def test_what_the_build_cannot_do_is_refused_naming_the_way_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every maintained image offers every supported runtime today; an image that lacks one
    # (as the older images lacked Node.js 24 before it shipped) is refused by name.
    newer = "aws/codebuild/amazonlinux-x86_64-standard:6.0"
    lacking = {**CODEBUILD_IMAGES[newer].runtimes, "nodejs": ("22",)}
    monkeypatch.setitem(CODEBUILD_IMAGES, newer, CodeBuildImage("x86_64", lacking))
    assert problems(BuildSettings(image=newer), [("nodejs24.x", "x86_64")]) == [
        f"build.image {newer} offers no nodejs 24, which the nodejs24.x functions need (it has "
        "22); omit build.image (the default images have it) or name an image that does"
    ]
    assert problems(BuildSettings(), [("python3.12", "x86_64"), ("python3.13", "x86_64")]) == [
        "the Python functions run python3.12 and python3.13, but a release holds one set of "
        "Python dependencies, built by one Python; give them one runtime"
    ]
    mixed = [("python3.13", "x86_64"), ("python3.13", "arm64")]
    assert problems(BuildSettings(), mixed) == [
        "the Python functions run x86_64 and arm64, but a release holds one set of Python "
        "dependencies, built for one architecture; give them one architecture"
    ]
    mixed = [("provided.al2023", "x86_64"), ("provided.al2023", "arm64")]
    assert problems(BuildSettings(), mixed) == [
        "the provided.al2023 functions run x86_64 and arm64, but a release holds one bootstrap "
        "executable, built for one architecture; give them one architecture"
    ]
    assert problems(BuildSettings(architecture="x86_64"), [("nodejs22.x", "arm64")]) == [
        "the Node.js functions run arm64 but the build runs x86_64, and npm builds native "
        "modules only for the machine it runs on; omit build.architecture and build.image (the "
        "build then runs on arm64) or run them on x86_64"
    ]
    assert problems(BuildSettings(python_version="3.12"), [("java21", "x86_64")]) == [
        "build.python_version is '3.12' but no function runs Python; omit it"
    ]
    arm_image = BuildSettings(image=defaults.BUILD_IMAGE_ARM, architecture="x86_64")
    assert problems(arm_image, PYTHON) == [
        f"build.image {defaults.BUILD_IMAGE_ARM} is an arm64 image but build.architecture is "
        "'x86_64'; omit build.architecture (the image's applies) or name an x86_64 image"
    ]


def test_bad_values_are_refused_with_what_is_accepted() -> None:
    assert problems(BuildSettings(architecture="aarch64"), [("go1.x", "x86")]) == [
        f"function_runtimes item runtime {runtimes.runtime_problem('go1.x')}",
        "function_runtimes item architecture is 'x86'; expected one of x86_64, arm64",
        "build.architecture is 'aarch64'; expected one of x86_64, arm64",
    ]
    assert problems(BuildSettings(), []) == [
        "function_runtimes is empty; expected (runtime, architecture) per function"
    ]


# Release images, where some function is a container image. docker cannot run here: the
# commands are checked as generated, and release.json is written by the generated printf.
IMAGE_ENVIRONMENT = {
    **ENVIRONMENT,
    "IMAGE_REPOSITORY": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders-images",
}


def build_commands(spec: str) -> list[str]:
    commands: list[str] = json.loads(spec)["phases"]["build"]["commands"]
    return commands


def test_without_image_functions_the_buildspec_has_no_docker() -> None:
    spec = buildspec(BuildSettings(), PYTHON)
    assert spec == buildspec(BuildSettings(), PYTHON, None)
    assert "docker" not in spec and "IMAGE" not in spec


@pytest.mark.parametrize(("architecture", "platform"), [("x86_64", "amd64"), ("arm64", "arm64")])
def test_the_build_pushes_the_image_and_names_it_by_digest(
    architecture: str, platform: str, tmp_path: Path
) -> None:
    settings = BuildSettings(dockerfile="docker/lambda.Dockerfile")
    spec = buildspec(settings, [("python3.13", architecture)], architecture)
    commands = build_commands(spec)
    start = next(i for i, c in enumerate(commands) if "docker login" in c)
    login, build, push, digest, write = commands[start : start + 5]
    assert commands[start - 1].startswith("if [ ! -f docker/lambda.Dockerfile ]")
    assert login == (
        'aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS '
        '--password-stdin "${IMAGE_REPOSITORY%%/*}"'
    )
    # One platform and no provenance attestation: "Lambda does not support functions that use
    # multi-architecture container images" (Lambda developer guide), and the guide's own build
    # command passes --provenance=false.
    assert build == (
        f"docker buildx build --platform linux/{platform} --provenance=false "
        '-f docker/lambda.Dockerfile -t "$IMAGE_REPOSITORY:$RELEASE_ID" .'
    )
    assert push == 'docker push "$IMAGE_REPOSITORY:$RELEASE_ID"'
    assert digest.startswith(
        'IMAGE_DIGEST=$(aws ecr describe-images --repository-name "${IMAGE_REPOSITORY#*/}"'
    )
    # The release still carries its zip: the test manifest and the zip functions' code.
    assert any("aws s3api put-object" in c for c in commands[:start])
    digest_value = "sha256:" + "b" * 64
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"VERSION_ID=v1 KEY=k SHA256={'c' * 64} IMAGE_DIGEST={digest_value}; {write}",
        ],
        cwd=tmp_path,
        env={**os.environ, **IMAGE_ENVIRONMENT},
        check=True,
    )
    assert done.returncode == 0
    written = json.loads((tmp_path / "release.json").read_text())
    assert written["release"]["image"] == {
        "uri": f"{IMAGE_ENVIRONMENT['IMAGE_REPOSITORY']}@{digest_value}"
    }
    assert written["release"]["id"] == "execution-1"


def test_an_image_only_application_installs_no_runtime() -> None:
    spec = json.loads(buildspec(BuildSettings(), [], "arm64"))
    assert "install" not in spec["phases"] and "pre_build" not in spec["phases"]
    assert any(
        c.startswith("docker buildx build --platform linux/arm64")
        for c in spec["phases"]["build"]["commands"]
    )
    problems = Problems("DeployPipeline")
    validate_build(problems, BuildSettings(), [], "arm64")
    assert problems.items == []


def test_the_build_runs_where_the_image_runs() -> None:
    assert build_architecture(BuildSettings(), PYTHON, "arm64") == "arm64"
    assert environment_type(BuildSettings(), PYTHON, "arm64") == "ARM_CONTAINER"
    assert build_image(BuildSettings(), PYTHON, "arm64") == defaults.BUILD_IMAGE_ARM
    problems = Problems("DeployPipeline")
    validate_build(
        problems,
        BuildSettings(architecture="x86_64", dockerfile="../Dockerfile"),
        PYTHON,
        "arm64",
    )
    assert problems.items == [
        "build.dockerfile is '../Dockerfile'; expected a relative path of the repository, e.g. "
        "Dockerfile or docker/lambda.Dockerfile",
        "the image functions run arm64 but the build runs x86_64, and docker builds the image "
        "for the machine it runs on; omit build.architecture and build.image (the build then "
        "runs on arm64) or run them on x86_64",
    ]


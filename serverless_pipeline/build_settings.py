"""Where releases come from and how each is built: plain values and the buildspec they make,
shared by the DeployPipeline construct and the configuration."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import defaults
from .handlers.events import RELEASE_KEY

CONNECTION_ARN = (
    r"arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}"
    r":connection/[A-Za-z0-9-]+"
)
RELEASE_INPUT_FILE = "release.json"


@dataclass(frozen=True)
class S3Source:
    """Releases start when a zip of the source is uploaded to the artifact bucket."""

    object_key: str = "source/app.zip"
    """Key of the source zip in the artifact bucket; a new version of it starts the pipeline."""


@dataclass(frozen=True)
class ConnectionSource:
    """Releases start on pushes to a GitHub, GitLab or Bitbucket repository through an existing
    CodeConnections connection."""

    connection_arn: str
    """ARN of the connection (codeconnections or codestar-connections)."""
    repository: str
    """owner/name of the repository."""
    branch: str = "main"
    """The branch whose pushes are released."""
    file_paths: Sequence[str] = field(default_factory=tuple)
    """Glob patterns: only pushes that change a matching file start a release; omitted: any."""
    excluded_file_paths: Sequence[str] = field(default_factory=tuple)
    """Glob patterns: pushes that change only matching files (docs, say) start nothing."""


@dataclass(frozen=True)
class BuildSettings:
    """How CodeBuild turns the source into a release."""

    source_dir: str = "src"
    """Directory of the source whose contents become the release zip (with the test manifest)."""
    install_command: str = (
        "if [ -f requirements.txt ]; then pip install -r requirements.txt; fi; "
        "if [ -f requirements-dev.txt ]; then pip install -r requirements-dev.txt; fi; "
        "python -m pytest --version >/dev/null 2>&1 || pip install 'pytest>=8,<10'"
    )
    """Installs what the unit tests need. Omitted: the application's requirements.txt and
    requirements-dev.txt when they exist, and pytest when they bring none (the build image has
    no test runner)."""
    unit_test_command: str = "python -m pytest -q"
    """Runs the application's unit tests; a non-zero exit stops the release (but see
    `require_unit_tests`)."""
    require_unit_tests: bool = False
    """Fail the build when the unit test command exits 5, pytest's "no tests collected".
    Omitted: a repository without unit tests still builds; its release's own test cases still
    run before staging."""
    python_version: str | None = None
    """CodeBuild runtime-versions python value; omitted: the application runtime's version, so
    that packaged dependencies with compiled extensions import in Lambda. Another version than
    the runtime's is refused."""
    image: str = defaults.BUILD_IMAGE
    """CodeBuild image (x86_64, like the functions); the default offers Python 3.12 and 3.13."""
    compute_type: str = "BUILD_GENERAL1_SMALL"
    """CodeBuild compute type."""
    timeout_minutes: int = defaults.BUILD_TIMEOUT_MINUTES
    """Build timeout, 5-480 minutes."""


def runtime_python(runtime: str) -> str:
    """The Python version of a Lambda runtime: python3.13 -> 3.13."""
    return runtime.removeprefix("python")


def unit_tests(settings: BuildSettings) -> str:
    """The unit test command; unless tests are required, pytest's exit status 5 (no tests
    collected) lets the build go on, since a repository need not have unit tests."""
    if settings.require_unit_tests:
        return settings.unit_test_command
    return (
        f"({settings.unit_test_command}) || {{ status=$?; if [ $status -eq 5 ]; then "
        'echo "No unit tests collected; the release is still tested by its own test cases."; '
        "else exit $status; fi; }"
    )


def buildspec(settings: BuildSettings, runtime: str = defaults.LAMBDA_RUNTIME) -> str:
    """The buildspec: install, unit tests, a reproducible release zip uploaded to
    releases/<id>/app.zip, and release.json, the state machine's input."""
    package = [
        "rm -rf .release release.zip && mkdir .release",
        'cp -R "$SOURCE_DIR"/. .release/',
        "if [ -f requirements.txt ]; then pip install -q -r requirements.txt -t .release; fi",
        # Fixed timestamps and entry order: the same source gives the same zip and checksum.
        "find .release -exec touch -h -d @315532800 {} +",
        # A release without its test manifest would only fail later, in ValidateCode.
        'if [ ! -f ".release/$TEST_MANIFEST" ]; then echo "The release has no test manifest '
        '$TEST_MANIFEST (PipelineConfig.test_manifest) under $SOURCE_DIR." >&2; exit 1; fi',
        "(cd .release && find . -type f | LC_ALL=C sort | zip -X -q -@ ../release.zip)",
        "SHA256=$(sha256sum release.zip | cut -d' ' -f1)",
        f'KEY="{RELEASE_KEY.format(release_id="$RELEASE_ID")}"',
        'VERSION_ID=$(aws s3api put-object --bucket "$ARTIFACT_BUCKET" --key "$KEY" '
        "--body release.zip --query VersionId --output text)",
        'printf \'{"release":{"id":"%s","bucket":"%s","key":"%s","sha256":"%s",'
        '"version_id":"%s"}}\' "$RELEASE_ID" "$ARTIFACT_BUCKET" "$KEY" "$SHA256" "$VERSION_ID" '
        f"> {RELEASE_INPUT_FILE}",
    ]
    spec = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "install": {
                "runtime-versions": {"python": settings.python_version or runtime_python(runtime)},
                "commands": [settings.install_command],
            },
            "pre_build": {"commands": [unit_tests(settings)]},
            "build": {"commands": package},
        },
        "artifacts": {"files": [RELEASE_INPUT_FILE]},
    }
    return json.dumps(spec, indent=2)

"""Where releases come from and how each is built: plain values and the buildspec they make,
shared by the DeployPipeline construct and the configuration."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from . import defaults
from .handlers import runtimes
from .handlers.events import LAYER_KEY, RELEASE_KEY, RELEASE_LAYER
from .validation import Problems

CONNECTION_ARN = (
    r"arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}"
    r":connection/[A-Za-z0-9-]+"
)
RELEASE_INPUT_FILE = "release.json"
# A directory of the repository the build reads (source_dir, a layer's): relative, no '..'.
REPOSITORY_DIRECTORY = r"(?!/)(?!.*\.\.)[\w./-]{1,200}"


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


PYTHON_INSTALL = (
    "if [ -f requirements.txt ]; then pip install -r requirements.txt; fi; "
    "if [ -f requirements-dev.txt ]; then pip install -r requirements-dev.txt; fi; "
    "python -m pytest --version >/dev/null 2>&1 || pip install 'pytest>=8,<10'"
)
PYTHON_UNIT_TESTS = "python -m pytest -q"


@dataclass(frozen=True)
class BuildSettings:
    """How CodeBuild turns the source into a release. Each language of the functions' runtimes
    is installed, tested and built from the repository's root, where its manifest lives
    (requirements.txt, package.json, pom.xml or build.gradle, go.mod or Cargo.toml, the .NET
    project); the release holds `source_dir` and what those builds make ("Building each
    runtime" in docs/reference/configuration.md)."""

    source_dir: str = "src"
    """Directory of the source whose contents become the release zip (with the test manifest),
    beside what the builds make."""
    install_command: str = PYTHON_INSTALL
    """Installs what the unit tests need; set, it replaces every language's own install.
    Omitted: each language's: for Python the application's requirements.txt and
    requirements-dev.txt when they exist, and pytest when they bring none (the build image has
    no test runner); npm ci for Node.js; rustup and cargo-lambda for Rust (Maven, Gradle, Go and
    .NET fetch what they need as they build)."""
    unit_test_command: str = PYTHON_UNIT_TESTS
    """Runs the application's unit tests; a non-zero exit stops the release (but see
    `require_unit_tests`). Set, it replaces every language's own. Omitted: python -m pytest -q,
    npm test (when package.json has a test script), go test ./..., cargo test and dotnet test;
    Java's tests run in its build."""
    build_command: str | None = None
    """Runs after the unit tests, before packaging; set, it replaces every language's own build
    and leaves its output where theirs would, for packaging to collect. Omitted: each
    language's: npm run build (when package.json has a build script), mvn -B -q package or
    gradle build, go build -o bootstrap, cargo lambda build, dotnet publish -o .publish."""
    require_unit_tests: bool = False
    """Fail the build when the application has no unit tests: the unit test command exits 5,
    pytest's "no tests collected", or package.json has no test script. Omitted: a repository
    without unit tests still builds; its release's own test cases still run before staging."""
    python_version: str | None = None
    """CodeBuild runtime-versions python value; omitted: the Python functions' runtime's
    version, so that packaged dependencies with compiled extensions import in Lambda. Another
    version than the runtime's is refused."""
    image: str | None = None
    """CodeBuild image. Omitted: the Amazon Linux x86_64 standard image, or its aarch64
    (Graviton) twin when the build runs on arm64 (`architecture`). An image this library knows
    (CODEBUILD_IMAGES) is checked for every runtime the functions need."""
    architecture: str | None = None
    """The build machine's instruction set, "x86_64" or "arm64" (an ARM_CONTAINER). Omitted: the
    named `image`'s, when it is a CodeBuild image this library knows; otherwise the Node.js
    functions' (npm builds native modules only for the machine it runs on); otherwise arm64
    when every function runs arm64, so native dependencies are built where they run, and
    x86_64 when any runs x86_64. Functions of the other architecture are cross-built: Python
    dependencies as that platform's wheels, Go with its GOARCH, Rust with cargo lambda's
    target, .NET with its runtime identifier; Node.js functions must run on the build's."""
    compute_type: str = "BUILD_GENERAL1_SMALL"
    """CodeBuild compute type."""
    timeout_minutes: int = defaults.BUILD_TIMEOUT_MINUTES
    """Build timeout, 5-480 minutes."""
    dockerfile: str = "Dockerfile"
    """Where some function is a container image: the Dockerfile of the release's image, relative
    to the repository's root, which is the image's build context (its COPY lines name
    source_dir's files from there). Built for the image functions' architecture, tagged with the
    release id, pushed to the pipeline's repository and named by digest in the release.
    Omitted: Dockerfile at the root."""
    layers: Mapping[str, str] = field(default_factory=dict)
    """Layers built with each release: name -> a directory relative to the repository's root
    that holds the layer's content in Lambda's layout (python/ for Python libraries,
    nodejs/node_modules/ for Node.js modules, bin/, lib/, extensions/), as the build commands
    leave it. Each is zipped reproducibly beside the release's zip and named in the release;
    functions take it by name in their `layers`, and the pipeline publishes it as a layer
    version <application>-<name> in each account and region that runs them, once per content.
    Omitted: none."""


CODEBUILD_RUNTIMES: dict[str, tuple[str, str]] = {
    "python3.12": ("python", "3.12"),
    "python3.13": ("python", "3.13"),
    "python3.14": ("python", "3.14"),
    "nodejs22.x": ("nodejs", "22"),
    "nodejs24.x": ("nodejs", "24"),
    "java21": ("java", "corretto21"),
    "java25": ("java", "corretto25"),
    "dotnet10": ("dotnet", "10.0"),
    "provided.al2023": ("golang", defaults.BUILD_GO_VERSION),
}
"""Lambda runtime -> the CodeBuild runtime-versions entry that builds it, oldest first within a
language. provided.al2023 gets Go: Rust brings its own toolchain (rustup)."""

LANGUAGES = ("python", "nodejs", "java", "dotnet", "provided")
"""The runtimes' languages (handlers.runtimes families), in the order the build runs them."""


@dataclass(frozen=True)
class CodeBuildImage:
    """A CodeBuild curated image: its architecture and the runtime-versions it offers."""

    architecture: str
    runtimes: Mapping[str, tuple[str, ...]]


# CodeBuild user guide, "Available runtimes", and each image's runtimes.yml in
# aws/aws-codebuild-docker-images (April 2026). Two generations: the older images still offer
# Node.js 20 and Go 1.20; the newer start at Node.js 22 and Go 1.24.
_OLDER_IMAGES = {
    "python": ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14"),
    "nodejs": ("18", "20", "22", "24"),
    "java": ("corretto8", "corretto11", "corretto17", "corretto21", "corretto25"),
    "dotnet": ("6.0", "8.0", "10.0"),
    "golang": ("1.20", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26"),
}
_NEWER_IMAGES = {
    "python": ("3.10", "3.11", "3.12", "3.13", "3.14"),
    "nodejs": ("22", "24"),
    "java": ("corretto8", "corretto11", "corretto17", "corretto21", "corretto25"),
    "dotnet": ("8.0", "10.0"),
    "golang": ("1.24", "1.25", "1.26"),
}
CODEBUILD_IMAGES: dict[str, CodeBuildImage] = {
    "aws/codebuild/amazonlinux2-x86_64-standard:5.0": CodeBuildImage("x86_64", _OLDER_IMAGES),
    "aws/codebuild/amazonlinux-x86_64-standard:5.0": CodeBuildImage("x86_64", _OLDER_IMAGES),
    "aws/codebuild/amazonlinux-x86_64-standard:6.0": CodeBuildImage("x86_64", _NEWER_IMAGES),
    "aws/codebuild/amazonlinux2-aarch64-standard:3.0": CodeBuildImage("arm64", _OLDER_IMAGES),
    "aws/codebuild/amazonlinux-aarch64-standard:3.0": CodeBuildImage("arm64", _OLDER_IMAGES),
    "aws/codebuild/amazonlinux-aarch64-standard:4.0": CodeBuildImage("arm64", _NEWER_IMAGES),
    "aws/codebuild/standard:7.0": CodeBuildImage("x86_64", _OLDER_IMAGES),
    "aws/codebuild/standard:8.0": CodeBuildImage("x86_64", _NEWER_IMAGES),
}
"""The maintained CodeBuild standard images (both names of the Amazon Linux ones)."""


@dataclass(frozen=True)
class _Target:
    """How each toolchain names one Lambda architecture."""

    goarch: str
    cargo_lambda: str
    dotnet_rid: str
    wheel_platform: str
    docker_platform: str


_TARGETS = {
    "x86_64": _Target("amd64", "--x86-64", "linux-x64", "manylinux2014_x86_64", "linux/amd64"),
    "arm64": _Target("arm64", "--arm64", "linux-arm64", "manylinux2014_aarch64", "linux/arm64"),
}


@dataclass(frozen=True)
class _Language:
    """The functions of one language: their runtimes (oldest first) and architectures."""

    runtimes: tuple[str, ...]
    architectures: tuple[str, ...]


def _languages(functions: Sequence[tuple[str, str]]) -> dict[str, _Language]:
    """Language -> its functions' runtimes and architectures, for the languages present."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for runtime, architecture in functions:
        names, architectures = found.setdefault(runtimes.family(runtime).name, (set(), set()))
        names.add(runtime)
        architectures.add(architecture)
    order = list(CODEBUILD_RUNTIMES)
    return {
        language: _Language(
            tuple(sorted(found[language][0], key=order.index)), tuple(sorted(found[language][1]))
        )
        for language in LANGUAGES
        if language in found
    }


def build_architecture(
    settings: BuildSettings,
    functions: Sequence[tuple[str, str]],
    image_architecture: str | None = None,
) -> str:
    """The build machine's architecture (BuildSettings.architecture explains the choice); with
    image functions (`image_architecture`), theirs: docker builds the image on the machine it
    runs on, without emulation."""
    if settings.architecture is not None:
        return settings.architecture
    if settings.image in CODEBUILD_IMAGES:
        return CODEBUILD_IMAGES[settings.image].architecture
    if image_architecture is not None:
        return image_architecture
    nodejs = _languages(functions).get("nodejs")
    if nodejs is not None and len(nodejs.architectures) == 1:
        return nodejs.architectures[0]
    if functions and all(architecture == "arm64" for _, architecture in functions):
        return "arm64"
    return "x86_64"


def build_image(
    settings: BuildSettings,
    functions: Sequence[tuple[str, str]],
    image_architecture: str | None = None,
) -> str:
    """The CodeBuild image: the one named, or the standard image of the build's architecture."""
    if settings.image is not None:
        return settings.image
    if build_architecture(settings, functions, image_architecture) == "arm64":
        return defaults.BUILD_IMAGE_ARM
    return defaults.BUILD_IMAGE


def environment_type(
    settings: BuildSettings,
    functions: Sequence[tuple[str, str]],
    image_architecture: str | None = None,
) -> str:
    """The CodeBuild environment type that runs the image on the build's architecture."""
    if build_architecture(settings, functions, image_architecture) == "arm64":
        return "ARM_CONTAINER"
    return "LINUX_CONTAINER"


def runtime_versions(
    settings: BuildSettings, functions: Sequence[tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """CodeBuild runtime name -> (version, the Lambda runtime it builds). A language with two
    runtimes builds with the older one, so that what it compiles runs on both."""
    versions: dict[str, tuple[str, str]] = {}
    for language in _languages(functions).values():
        runtime = language.runtimes[0]
        name, version = CODEBUILD_RUNTIMES[runtime]
        if name == "python" and settings.python_version is not None:
            version = settings.python_version
        versions[name] = (version, runtime)
    return versions


def validate_build(
    problems: Problems,
    settings: BuildSettings,
    functions: Sequence[tuple[str, str]] | None,
    image_architecture: str | None = None,
) -> None:
    """What the build cannot do for these zip functions (and the image functions, of
    `image_architecture`): each problem names the setting or the functions and the way out.
    None: functions with problems of their own, whose build is judged once they are sound."""
    known = len(problems.items)
    if functions is None:
        # The functions are reported where they are configured (PipelineConfig's one pass).
        _validate_layers(problems, settings)
        return
    if not functions and image_architecture is None:
        problems.add("function_runtimes is empty; expected (runtime, architecture) per function")
    for runtime, architecture in functions:
        problem = runtimes.runtime_problem(runtime)
        if problem:
            problems.add(f"function_runtimes item runtime {problem}")
        problems.one_of("function_runtimes item architecture", architecture, runtimes.ARCHITECTURES)
    if settings.architecture is not None:
        problems.one_of("build.architecture", settings.architecture, runtimes.ARCHITECTURES)
    _validate_layers(problems, settings)
    if len(problems.items) > known:
        return
    languages = _languages(functions)
    architecture = build_architecture(settings, functions, image_architecture)
    _validate_python(problems, settings, languages.get("python"))
    _validate_shared_architecture(problems, languages, architecture)
    _validate_image(problems, settings, functions)
    if image_architecture is not None:
        _validate_docker(problems, settings, image_architecture, architecture)


def _validate_layers(problems: Problems, settings: BuildSettings) -> None:
    """Each layer's name is one a layer may have, and its directory is in the repository."""
    if not isinstance(settings.layers, Mapping):
        problems.add(
            f"build.layers is {settings.layers!r}; expected a mapping of layer names to "
            "directories in the repository"
        )
        return
    for name, directory in settings.layers.items():
        accepted = "1-64 letters, digits, '_' or '-'"
        problems.pattern("build.layers name", name, RELEASE_LAYER.pattern, accepted)
        where = f"build.layers[{name!r}]"
        accepted = "a directory relative to the repository's root, without '..', such as "
        accepted += "'layers/common'"
        if directory is None:  # Problems.pattern passes None, which means "unset" elsewhere
            problems.add(f"{where} is None; expected {accepted}")
        problems.pattern(where, directory, REPOSITORY_DIRECTORY, accepted)


def _validate_docker(
    problems: Problems, settings: BuildSettings, image_architecture: str, architecture: str
) -> None:
    """The release image is built where it runs ("Lambda does not support functions that use
    multi-architecture container images": one platform), from a Dockerfile of the repository."""
    problems.one_of("image functions' architecture", image_architecture, runtimes.ARCHITECTURES)
    problems.pattern(
        "build.dockerfile",
        settings.dockerfile,
        r"(?!/)(?!.*\.\.)[\w./-]{1,200}",
        "a relative path of the repository, e.g. Dockerfile or docker/lambda.Dockerfile",
    )
    if image_architecture in runtimes.ARCHITECTURES and image_architecture != architecture:
        problems.add(
            f"the image functions run {image_architecture} but the build runs {architecture}, "
            "and docker builds the image for the machine it runs on; omit build.architecture "
            f"and build.image (the build then runs on {image_architecture}) or run them on "
            f"{architecture}"
        )


def _validate_python(problems: Problems, settings: BuildSettings, python: _Language | None) -> None:
    """One Python builds the release's dependencies, for the Python functions' runtime."""
    if python is None:
        if settings.python_version is not None:
            problems.add(
                f"build.python_version is {settings.python_version!r} but no function runs "
                "Python; omit it"
            )
        return
    if len(python.runtimes) > 1:
        problems.add(
            f"the Python functions run {' and '.join(python.runtimes)}, but a release holds one "
            "set of Python dependencies, built by one Python; give them one runtime"
        )
        return
    (runtime,) = python.runtimes
    version = CODEBUILD_RUNTIMES[runtime][1]
    if settings.python_version is not None and settings.python_version != version:
        problems.add(
            f"build.python_version is {settings.python_version!r} but the functions run "
            f"{runtime}; omit it (the build follows the runtime) or set {version!r}, so that "
            "compiled dependencies import in Lambda"
        )


def _validate_shared_architecture(
    problems: Problems, languages: Mapping[str, _Language], architecture: str
) -> None:
    """Python's dependencies, Node.js's node_modules and the provided runtimes' bootstrap are
    one per release, so their functions share an architecture; npm builds native modules for
    the machine it runs on, so Node.js's is the build's."""
    for language, name, what in (
        ("python", "Python", "one set of Python dependencies"),
        ("nodejs", "Node.js", "one node_modules"),
        ("provided", "provided.al2023", "one bootstrap executable"),
    ):
        found = languages.get(language)
        if found is not None and len(found.architectures) > 1:
            problems.add(
                f"the {name} functions run x86_64 and arm64, but a release holds {what}, "
                "built for one architecture; give them one architecture"
            )
    nodejs = languages.get("nodejs")
    if nodejs is None or len(nodejs.architectures) > 1:
        return
    (wanted,) = nodejs.architectures
    if wanted != architecture:
        problems.add(
            f"the Node.js functions run {wanted} but the build runs {architecture}, and npm "
            "builds native modules only for the machine it runs on; omit build.architecture "
            f"and build.image (the build then runs on {wanted}) or run them on {architecture}"
        )


def _validate_image(
    problems: Problems, settings: BuildSettings, functions: Sequence[tuple[str, str]]
) -> None:
    """A CodeBuild image this library knows offers every runtime-version the build asks for,
    on the architecture it is run on."""
    image = build_image(settings, functions)
    known = CODEBUILD_IMAGES.get(image)
    if known is None:
        return
    if settings.architecture is not None and settings.architecture != known.architecture:
        problems.add(
            f"build.image {image} is an {known.architecture} image but build.architecture is "
            f"{settings.architecture!r}; omit build.architecture (the image's applies) or name "
            f"an {settings.architecture} image"
        )
    for name, (version, runtime) in runtime_versions(settings, functions).items():
        offered = known.runtimes.get(name, ())
        if version not in offered:
            problems.add(
                f"build.image {image} offers no {name} {version}, which the {runtime} functions "
                f"need (it has {', '.join(offered) or 'none'}); omit build.image (the default "
                "images have it) or name an image that does"
            )


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


@dataclass(frozen=True)
class _Steps:
    """What one language adds to each phase of the build."""

    install: tuple[str, ...] = ()
    unit_tests: tuple[str, ...] = ()
    build: tuple[str, ...] = ()
    package: tuple[str, ...] = ()
    """Collects the build's output into .release, after source_dir is copied there."""


def _python(settings: BuildSettings, python: _Language, architecture: str) -> _Steps:
    """Requirements into the release, as wheels of the functions' platform when the build
    runs on the other one (pip then takes no source distribution it would compile here)."""
    (target,) = python.architectures
    platform = ""
    if target != architecture:
        # pip widens a manylinux tag only to older ones: name the newest the runtime's glibc
        # runs too (Amazon Linux 2023's 2.34, every Python runtime Lambda supports), so wheels
        # published only for manylinux_2_28 are found.
        machine = _TARGETS[target].wheel_platform.removeprefix("manylinux2014_")
        newer = ("manylinux_2_34", "manylinux_2_28")
        tags = [f"{tag}_{machine}" for tag in newer] + [_TARGETS[target].wheel_platform]
        platform = "".join(f" --platform {tag}" for tag in tags) + " --only-binary=:all:"
    return _Steps(
        install=(PYTHON_INSTALL,),
        unit_tests=(unit_tests(settings),),
        package=(
            "if [ -f requirements.txt ]; then "
            f"pip install -q -r requirements.txt -t .release{platform}; fi",
        ),
    )


def _nodejs(settings: BuildSettings) -> _Steps:
    """npm ci from the lock file; the release gets the production dependencies by pruning the
    tested node_modules, not by a second install: no download, the native modules the tests
    ran with, and no lifecycle script (a prepare script that needs a dev tool) runs again."""
    test = "npm test" if settings.require_unit_tests else "npm test --if-present"
    return _Steps(
        install=("if [ -f package.json ]; then npm ci; fi",),
        unit_tests=(f"if [ -f package.json ]; then {test}; fi",),
        build=("if [ -f package.json ]; then npm run build --if-present; fi",),
        package=(
            # package.json goes along: its "type" decides how Node.js loads the handler's file.
            "if [ -f package.json ]; then npm prune --omit=dev "
            "&& { [ -f .release/package.json ] || cp package.json .release/; } "
            "&& { [ ! -d node_modules ] || cp -R node_modules .release/; }; fi",
        ),
    )


# The Lambda developer guide's Java zip layout ("Deploy Java Lambda functions with .zip or JAR
# file archives"): the classes and resources at the root, the runtime dependencies' jars in lib/.
# Gradle gets it from a task an init script adds, as the guide's buildZip task does.
_GRADLE_RELEASE = (
    "rootProject { plugins.withId('java') { tasks.register('lambdaRelease', Copy) { "
    "from project.sourceSets.main.output; "
    "into('lib') { from project.configurations.runtimeClasspath }; into '.release' } } }"
)


def _java() -> _Steps:
    """Maven or Gradle, whichever build file the repository has; their builds run the tests."""
    gradle = "if [ -f gradlew ]; then sh ./gradlew {args}; else gradle {args}; fi"
    release = gradle.format(args='--init-script "$init" lambdaRelease')
    return _Steps(
        build=(
            "if [ -f pom.xml ]; then mvn -B -q package; "
            "elif [ -f build.gradle ] || [ -f build.gradle.kts ]; then "
            f"{gradle.format(args='build')}; "
            'else echo "The Java functions need a pom.xml, build.gradle or build.gradle.kts at '
            'the repository root." >&2; exit 1; fi',
        ),
        package=(
            "if [ -f pom.xml ]; then cp -R target/classes/. .release/ && mvn -B -q "
            "dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=.release/lib; "
            f'else init=$(mktemp) && echo "{_GRADLE_RELEASE}" > "$init" && '
            f"{release}; fi",
        ),
    )


def _dotnet(dotnet: _Language) -> _Steps:
    """dotnet publish, framework-dependent, for the functions' runtime identifier; functions of
    both architectures get the portable output, which carries both's native assets. A CI build
    maps source paths, so the same source publishes the same bytes wherever CodeBuild puts it."""
    rid = f" -r {_TARGETS[dotnet.architectures[0]].dotnet_rid}"
    if len(dotnet.architectures) > 1:
        rid = ""
    return _Steps(
        unit_tests=("dotnet test",),
        build=(
            f"dotnet publish -c Release{rid} --self-contained false "
            "-p:ContinuousIntegrationBuild=true -o .publish",
        ),
        package=("cp -R .publish/. .release/",),
    )


def _provided(provided: _Language) -> _Steps:
    """Go or Rust, whichever the repository has, built into the one executable bootstrap at the
    release's root that Lambda starts for every provided.al2023 function (it reads _HANDLER).
    Go builds without cgo and file system paths, so the same source gives the same binary."""
    target = _TARGETS[provided.architectures[0]]
    rust = "[ -f Cargo.toml ] && [ ! -f go.mod ]"
    return _Steps(
        install=(
            f"if {rust}; then if ! command -v rustup >/dev/null 2>&1; then "
            "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y "
            '--profile minimal; fi; export PATH="$HOME/.cargo/bin:$PATH"; '
            "rustup default >/dev/null 2>&1 || rustup default stable; "
            "pip install -q 'cargo-lambda>=1,<2'; fi",
        ),
        unit_tests=("if [ -f go.mod ]; then go test ./...; else cargo test; fi",),
        build=(
            f"if [ -f go.mod ]; then GOOS=linux GOARCH={target.goarch} CGO_ENABLED=0 go build "
            "-trimpath -tags lambda.norpc -o bootstrap; "
            f"else cargo lambda build --release {target.cargo_lambda}; fi",
        ),
        package=(
            "if [ -f go.mod ]; then install -m 755 bootstrap .release/bootstrap; "
            "elif [ -f Cargo.toml ]; then built=(target/lambda/*/bootstrap); "
            'if [ ${#built[@]} -ne 1 ] || [ ! -f "${built[0]}" ]; then echo "cargo lambda '
            "built ${built[*]}; the provided.al2023 functions need exactly one binary, their "
            'bootstrap." >&2; exit 1; fi; install -m 755 "${built[0]}" .release/bootstrap; '
            'else echo "The provided.al2023 functions need a go.mod or Cargo.toml at the '
            'repository root." >&2; exit 1; fi',
        ),
    )


def _steps(
    settings: BuildSettings, functions: Sequence[tuple[str, str]], architecture: str
) -> list[_Steps]:
    """Each present language's steps, in LANGUAGES order."""
    languages = _languages(functions)
    steps = []
    if "python" in languages:
        steps.append(_python(settings, languages["python"], architecture))
    if "nodejs" in languages:
        steps.append(_nodejs(settings))
    if "java" in languages:
        steps.append(_java())
    if "dotnet" in languages:
        steps.append(_dotnet(languages["dotnet"]))
    if "provided" in languages:
        steps.append(_provided(languages["provided"]))
    return steps


def _image(settings: BuildSettings, architecture: str) -> list[str]:
    """Build the release image for the image functions' platform, push it tagged with the
    release id, and read the digest ECR gives it: the release names its image by digest. The
    build follows the Lambda developer guide ("Deploy Python Lambda functions with container
    images"): docker buildx for one platform without a provenance attestation, which would
    make the pushed image a manifest list that Lambda does not run."""
    dockerfile = shlex.quote(settings.dockerfile)
    return [
        f'if [ ! -f {dockerfile} ]; then echo "The image functions need {settings.dockerfile} '
        'at the repository root (BuildSettings.dockerfile)." >&2; exit 1; fi',
        'aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS '
        '--password-stdin "${IMAGE_REPOSITORY%%/*}"',
        f"docker buildx build --platform {_TARGETS[architecture].docker_platform} "
        f'--provenance=false -f {dockerfile} -t "$IMAGE_REPOSITORY:$RELEASE_ID" .',
        'docker push "$IMAGE_REPOSITORY:$RELEASE_ID"',
        'IMAGE_DIGEST=$(aws ecr describe-images --repository-name "${IMAGE_REPOSITORY#*/}" '
        '--image-ids imageTag="$RELEASE_ID" --query "imageDetails[0].imageDigest" --output text)',
    ]


def _layer(index: int, name: str, directory: str) -> list[str]:
    """Zip one layer's directory as the release's zip is made (no bytecode, fixed timestamps,
    sorted entries: the same content gives the same checksum, and the pipeline publishes it
    once), and upload it beside the release's zip."""
    quoted, out = shlex.quote(directory), f".layers/{name}.zip"
    return [
        f'if [ ! -d {quoted} ]; then echo "The layer {name} needs its directory {directory} '
        '(BuildSettings.layers) after the build." >&2; exit 1; fi',
        f"mkdir -p .layers && rm -f {out}",
        f"find {quoted} -name __pycache__ -type d -prune -exec rm -rf {{}} +",
        f"find {quoted} -exec touch -h -d @315532800 {{}} +",
        f'(out="$PWD/{out}"; cd {quoted} && find . -type f | LC_ALL=C sort | zip -X -q -@ "$out")',
        f"LAYER_SHA256_{index}=$(sha256sum {out} | cut -d' ' -f1)",
        f'LAYER_VERSION_{index}=$(aws s3api put-object --bucket "$ARTIFACT_BUCKET" --key '
        f'"{LAYER_KEY.format(release_id="$RELEASE_ID", layer=name)}" --body {out} '
        "--query VersionId --output text)",
    ]


def _release_input(image: bool, layers: Sequence[str]) -> str:
    """The printf that writes release.json, the state machine's input: where the release's zip
    is and its checksum, and with them its image by digest and its layers, where it has them."""
    form = '"id":"%s","bucket":"%s","key":"%s","sha256":"%s","version_id":"%s"'
    values = ['"$RELEASE_ID"', '"$ARTIFACT_BUCKET"', '"$KEY"', '"$SHA256"', '"$VERSION_ID"']
    if image:
        form += ',"image":{"uri":"%s"}'
        values.append('"$IMAGE_REPOSITORY@$IMAGE_DIGEST"')
    if layers:
        entries = ",".join(
            f'"{name}":{{"key":"{LAYER_KEY.format(release_id="%s", layer=name)}",'
            '"sha256":"%s","version_id":"%s"}'
            for name in layers
        )
        form += f',"layers":{{{entries}}}'
        for index in range(len(layers)):
            values += ['"$RELEASE_ID"', f'"$LAYER_SHA256_{index}"', f'"$LAYER_VERSION_{index}"']
    return f"printf '{{\"release\":{{{form}}}}}' {' '.join(values)} > {RELEASE_INPUT_FILE}"


def buildspec(
    settings: BuildSettings,
    functions: Sequence[tuple[str, str]],
    image_architecture: str | None = None,
) -> str:
    """The buildspec for zip functions of these (runtime, architecture): each language's
    install, unit tests and build (or the commands the settings give instead), then one
    reproducible release zip of source_dir and the builds' output, uploaded to
    releases/<id>/app.zip, and release.json, the state machine's input. With image functions
    (`image_architecture`), the release image too, pushed to $IMAGE_REPOSITORY and named in
    release.json by digest (release.image.uri)."""
    steps = _steps(settings, functions, build_architecture(settings, functions, image_architecture))
    install = [settings.install_command]
    if settings.install_command == PYTHON_INSTALL:
        install = [command for step in steps for command in step.install]
    tests = [unit_tests(settings)]
    if settings.unit_test_command == PYTHON_UNIT_TESTS:
        tests = [command for step in steps for command in step.unit_tests]
    builds = [command for step in steps for command in step.build]
    if settings.build_command is not None:
        builds = [settings.build_command]
    commands = [
        *builds,
        "rm -rf .release release.zip && mkdir .release",
        'cp -R "$SOURCE_DIR"/. .release/',
        *(command for step in steps for command in step.package),
        # Bytecode (pip's, or the unit tests' imports of source_dir) names the directory it was
        # compiled in and when: no two builds would match, and once the sources' timestamps are
        # reset below, Python ignores it anyway.
        "find .release -name __pycache__ -type d -prune -exec rm -rf {} +",
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
    ]
    layers = sorted(settings.layers.items())
    for index, (name, directory) in enumerate(layers):
        commands += _layer(index, name, directory)
    if image_architecture is not None:
        commands += _image(settings, image_architecture)
    commands.append(_release_input(image_architecture is not None, [n for n, _ in layers]))
    versions = runtime_versions(settings, functions)
    install_phase: dict[str, object] = {}
    if versions:  # none without zip functions: CodeBuild's image brings docker
        install_phase["runtime-versions"] = {
            name: version for name, (version, _) in versions.items()
        }
    if install:
        install_phase["commands"] = install
    phases: dict[str, object] = {"install": install_phase} if install_phase else {}
    if tests:
        phases["pre_build"] = {"commands": tests}
    phases["build"] = {"commands": commands}
    spec = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": phases,
        "artifacts": {"files": [RELEASE_INPUT_FILE]},
    }
    return json.dumps(spec, indent=2)


def validate_source_and_build(
    problems: Problems,
    source: S3Source | ConnectionSource,
    build: BuildSettings,
    function_runtimes: Sequence[tuple[str, str]] | None,
    image_architecture: str | None,
) -> None:
    """Where releases come from, and how they are built for these functions (None: functions
    with problems of their own): DeployPipeline's props, and PipelineConfig's source and
    build."""
    if isinstance(source, S3Source):
        problems.pattern(
            "source.object_key",
            source.object_key,
            r"(?!releases/)[A-Za-z0-9!_.*'()/-]{1,1024}\.zip",
            "a key ending in .zip outside releases/",
        )
    elif isinstance(source, ConnectionSource):
        problems.pattern(
            "source.connection_arn",
            source.connection_arn,
            CONNECTION_ARN,
            "a CodeConnections connection ARN",
        )
        problems.pattern("source.repository", source.repository, r"[\w.-]+/[\w./-]+", "owner/name")
        problems.pattern(
            "source.branch", source.branch, r"[^\s~^:?*\[\\]{1,255}", "a git branch name"
        )
        for prop, globs in (
            ("source.file_paths", source.file_paths),
            ("source.excluded_file_paths", source.excluded_file_paths),
        ):
            if len(globs) > 8:
                problems.add(f"{prop} has {len(globs)} patterns; CodePipeline accepts at most 8")
            for glob in globs:
                problems.pattern(
                    f"{prop} item", glob, r"[^\s]{1,255}", "a glob such as src/** (no spaces)"
                )
    else:
        problems.add(f"source is {source!r}; expected S3Source or ConnectionSource")
    problems.pattern(
        "build.source_dir",
        build.source_dir,
        REPOSITORY_DIRECTORY,
        "a relative directory of the repository",
    )
    validate_build(problems, build, function_runtimes, image_architecture)
    problems.within("build.timeout_minutes", build.timeout_minutes, 5, 480, "minutes")
    problems.one_of(
        "build.compute_type",
        build.compute_type,
        ("BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"),
    )
    for prop, command in (
        ("build.install_command", build.install_command),
        ("build.unit_test_command", build.unit_test_command),
        ("build.build_command", build.build_command),
    ):
        if command is not None and not command.strip():
            problems.add(f"{prop} is empty; give a shell command (use 'true' to skip the step)")

"""Your own application as the rehearsal's releases, and drills that break a copy of it.

The release source is a directory as the build packages it: the handler modules of every
function of the configuration and the test manifest at `PipelineConfig.test_manifest`. Each
release is a zip of that directory and of what the build installs beside it, the packages of
the repository's requirements.txt (`pip install -r requirements.txt -t`, run in the repository's
root, which for the rehearsal is the directory it runs in, where `--config` is found too). Python
code runs with only its release on its path (emulator/python_runtime.py): a module that no
requirement brings fails to import, as in Lambda. Each release kind is `ok`, the code as it is,
or a drill with a real defect injected into a copy of one function's handler module (the first
function's; the worker's for `worker-*`):

- `validate`: the module stops compiling (Python), or no longer has the handler (Node.js: validate
  reads a module's exports without running it).
- `unit-tests`: the handler gives wrong answers, everywhere.
- `staging-tests`: in the first environment only, it gives wrong answers to the events of the
  test cases that run there (and not as smoke cases): its deployment goes well, its tests fail.
- `staging-deploy` / `production-deploy`: in the first / last environment only, it fails every
  call, which the environment's smoke hook or alarms (on the users' traffic) catch while the
  deployment runs.
- `production-bake`: in the last environment only, a leak: each execution environment serves
  the smoke cases and the canary's requests, then fails every call, so the users who keep coming
  while the release bakes set the errors alarm off (BakeAlarm).
- `abort-staging` / `abort-production`: the code as it is, and an operator stops the execution
  while the first / last environment deploys; the cleanup rule rolls back.

A Python module gets the defect appended. A Node.js module cannot be redefined that way: it moves
to a sibling file, and a wrapper module of the same kind (ES module or CommonJS, as Node.js and
Lambda decide by its extension and package.json's "type") takes its place, which has everything
the module has and the defective handler instead of its own.

A drill that nothing in the configuration would catch is refused with the reason. The pipeline
never reads a drill's flag: the defect is code, found where AWS would find it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..application_settings import SMOKE_TESTS
from ..assets import zip_bytes
from ..handlers.archive import MAX_ENTRIES, TestCase, entry_point, parse_manifest
from ..handlers.errors import HandlerNotFound
from ..layout import ApplicationLayout
from .account import BAKE_REQUESTS, TRAFFIC_REQUESTS
from .source import ABORTS, BAKES, KINDS

WRONG_ANSWER = {"rehearsal-drill": "a wrong answer"}
REQUIREMENTS = "requirements.txt"
# What pip installed for each requirements file (by its directory and content) in this process.
_installed: dict[str, dict[str, bytes]] = {}


class AppError(ValueError):
    """The directory cannot be rehearsed with this configuration (a usage error, exit 2)."""


@dataclass(frozen=True)
class _Defect:
    """What the injected wrapper does, and where."""

    raises: bool
    functions: tuple[str, ...] | None
    """Physical function names where it misbehaves; None: everywhere."""
    events: tuple[Any, ...] | None
    """Only for these events; None: for every event."""
    after: int = 0
    """It behaves while an execution environment has served fewer calls than this (a leak that
    runs out), then misbehaves; 0: from the first call."""


class UserApp:
    """Releases built from an application directory, laid out as `application` deploys it."""

    def __init__(
        self,
        directory: Path,
        application: ApplicationLayout,
        manifest: str,
        requirements: Path | None = None,
    ) -> None:
        """`requirements`: the repository's requirements.txt, whose packages the build installs
        into every release; None or a missing file: the build installs nothing."""
        if not directory.is_dir():
            raise AppError(f"--app {directory}: no such directory")
        self.directory = directory
        self.application = application
        self.manifest = manifest
        self.files = {
            path.relative_to(directory).as_posix(): path.read_bytes()
            for path in sorted(directory.rglob("*"))
            if path.is_file() and _released(path.relative_to(directory))
        }
        self.dependencies: dict[str, bytes] = {}
        if requirements is not None and requirements.is_file():
            self.dependencies = _install(requirements)
        # A tree larger than validate accepts would only fail at ValidateCode.
        entries = len(self.files.keys() | self.dependencies.keys())
        if entries > MAX_ENTRIES:
            raise AppError(
                f"--app {directory} holds {entries} files with its requirements; a release holds "
                f"at most {MAX_ENTRIES}"
            )
        missing: list[str] = []
        for key in application.functions:
            try:
                self._entry(key)
            except HandlerNotFound as error:
                missing.append(f"{key}: {error}")
        if missing:
            raise AppError(
                f"--app {directory} has no handler module for function(s) {'; '.join(missing)}; "
                "give the directory the build packages (BuildSettings.source_dir)"
            )
        if manifest not in self.files:
            raise AppError(
                f"--app {directory} has no test manifest {manifest} (PipelineConfig.test_manifest)"
            )
        self.cases = parse_manifest(self.files[manifest], manifest)

    @property
    def kinds(self) -> tuple[str, ...]:
        return KINDS

    def refusal(self, kind: str) -> str | None:
        """Why the drill cannot apply to this configuration, or None when it can."""
        try:
            self._defect(kind)
        except AppError as error:
            return str(error)
        return None

    def release_zip(self, kind: str, release: str) -> bytes:
        """The release of `kind`: the directory and its requirements' packages, with the drill's
        defect in one handler."""
        # pip leaves what the source directory already has in place: the source's files win.
        files = {**self.dependencies, **self.files}
        if kind != "ok" and kind not in ABORTS:
            path, name = self._entry(self._target(kind))
            if path.endswith(".py"):
                files[path] = files[path] + self._injection(kind, name).encode()
            else:
                moved = PurePosixPath(path)
                moved = moved.with_suffix(f".drill-original{moved.suffix}")
                files[moved.as_posix()] = files[path]
                files[path] = self._node_wrapper(kind, name, moved.name, self._esm(path)).encode()
        return zip_bytes(sorted(files.items()))

    def traffic_events(self, function: str) -> list[Any]:
        """What the function's users send during a deployment: the events of its smoke cases,
        or else of every case expected to succeed."""
        succeeding = [c for c in self._cases_of(function) if c.expected_error is None]
        smoke = [c.event for c in succeeding if "smoke" in c.stages]
        return smoke or [c.event for c in succeeding]

    def _entry(self, function: str) -> tuple[str, str]:
        """(the file Lambda loads the function's handler from, the handler's name in it)."""
        code = self.application.environments[0].function(function)
        return entry_point(code.runtime, code.handler, self.files), code.handler.rpartition(".")[2]

    def _esm(self, path: str) -> bool:
        """Whether Node.js loads the module at `path` as an ES module: .mjs, or .js under a
        package.json whose "type" is "module" (the nearest one decides)."""
        if not path.endswith(".js"):
            return path.endswith(".mjs")
        for folder in PurePosixPath(path).parents:
            package = (folder / "package.json").as_posix()
            if package in self.files:
                try:
                    return bool(json.loads(self.files[package]).get("type") == "module")
                except (ValueError, AttributeError):
                    return False
        return False

    def _cases_of(self, function: str) -> list[TestCase]:
        first = next(iter(self.application.functions))
        return [c for c in self.cases if (c.function or first) == function]

    def _target(self, kind: str) -> str:
        if kind.startswith("worker-"):
            if "worker" not in self.application.functions:
                raise AppError(
                    f"{kind} breaks the function named worker, and this application has none "
                    f"({', '.join(self.application.functions)})"
                )
            return "worker"
        return next(iter(self.application.functions))

    def _injection(self, kind: str, name: str) -> str:
        if kind == "validate":
            return "\n\ndef rehearsal_drill(:  # the handler module no longer compiles\n"
        defect = self._defect(kind)
        failure = f"rehearsal drill {kind}: fails here"
        answer = f"raise RuntimeError({failure!r})" if defect.raises else f"return {WRONG_ANSWER!r}"
        return (
            f"\n\n# rehearsal drill {kind}: a defect injected into a copy of this module\n"
            "import json as _drill_json\n"
            "import os as _drill_os\n"
            f"_drill_handler = {name}\n"
            f"_DRILL_FUNCTIONS = {defect.functions!r}\n"
            f"_DRILL_EVENTS = {json.dumps(defect.events)!r}\n"
            f"_DRILL_AFTER = {defect.after}\n"
            "_drill_served = []\n\n\n"
            f"def {name}(event, context):\n"
            '    where = _drill_os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")\n'
            "    events = _drill_json.loads(_DRILL_EVENTS)\n"
            "    if (_DRILL_FUNCTIONS is None or where in _DRILL_FUNCTIONS) and (\n"
            "        events is None or event in events\n"
            "    ):\n"
            "        _drill_served.append(1)  # never released: runs out after _DRILL_AFTER\n"
            "        if len(_drill_served) > _DRILL_AFTER:\n"
            f"            {answer}\n"
            "    return _drill_handler(event, context)\n"
        )

    def _node_wrapper(self, kind: str, name: str, original: str, esm: bool) -> str:
        """The module that takes the handler module's place, the module itself moved to
        `original` beside it. For validate it only has the handler under another name, in a form
        validate reads, so that it finds the handler missing; else it has everything of the
        module (for an ES module through `export *`, whose handler the wrapper's own shadows) and
        a handler that misbehaves where the drill says and calls the module's own elsewhere."""
        source = json.dumps(f"./{original}")
        header = f"// rehearsal drill {kind}: a defect injected into a copy of this module\n"
        if kind == "validate":
            if esm:
                return f"{header}export {{ {name} as rehearsalDrillRenamed }} from {source};\n"
            return f"{header}exports.rehearsalDrillRenamed = require({source}).{name};\n"
        defect = self._defect(kind)
        failure = json.dumps(f"rehearsal drill {kind}: fails here")
        answer = (
            f"Promise.reject(new Error({failure}))"
            if defect.raises
            else f"Promise.resolve({json.dumps(WRONG_ANSWER)})"
        )
        body = (
            f"const DRILL_FUNCTIONS = {json.dumps(defect.functions)};\n"
            f"const DRILL_EVENTS = {json.dumps(defect.events)};\n"
            f"const DRILL_AFTER = {defect.after};\n"
            "let drillServed = 0; // never released: runs out after DRILL_AFTER\n"
            "const drillHandler = (event, context, callback) => {\n"
            '  const where = process.env.AWS_LAMBDA_FUNCTION_NAME || "";\n'
            "  if (\n"
            "    (DRILL_FUNCTIONS === null || DRILL_FUNCTIONS.includes(where)) &&\n"
            "    (DRILL_EVENTS === null || DRILL_EVENTS.some((e) => isDeepStrictEqual(e, event)))\n"
            "    && ++drillServed > DRILL_AFTER\n"
            "  ) {\n"
            f"    return {answer};\n"
            "  }\n"
            f"  return original[{json.dumps(name)}](event, context, callback);\n"
            "};\n"
        )
        if esm:
            return (
                f'{header}import {{ isDeepStrictEqual }} from "node:util";\n'
                f"import * as original from {source};\n"
                f"export * from {source};\n{body}"
                f"export {{ drillHandler as {name} }};\n"
            )
        return (
            f'{header}const {{ isDeepStrictEqual }} = require("node:util");\n'
            f"const original = require({source});\n{body}"
            f"module.exports = {{ ...original, {name}: drillHandler }};\n"
        )

    def _defect(self, kind: str) -> _Defect:
        if kind not in KINDS:
            raise AppError(f"unknown release kind {kind!r}")
        if kind in ("ok", "validate"):
            return _Defect(False, None, None)
        if kind in ABORTS:
            if len(self.application.environments) < 2 and kind == "abort-staging":
                raise AppError("abort-staging needs an environment before the last; there is one")
            return _Defect(False, None, None)
        function = self._target(kind)
        cases = self._cases_of(function)
        environments = self.application.environments
        if kind == "unit-tests":
            if not [c for c in cases if "candidate" in c.stages]:
                raise AppError(
                    f"unit-tests gives {function} wrong answers, and no test case of it runs "
                    "against the candidate release (stage candidate) to notice"
                )
            return _Defect(False, None, None)
        if len(environments) < 2 and "staging" in kind:
            raise AppError(f"{kind} needs an environment before the last; there is one")
        place = environments[-1] if "production" in kind else environments[0]
        names = tuple(f.function_name for f in place.functions if f.key == function)
        if kind.endswith("staging-tests"):
            events = tuple(
                c.event for c in cases if "staging" in c.stages and "smoke" not in c.stages
            )
            if not events:
                raise AppError(
                    f"{kind} gives {function} wrong answers in {place.name} to the events of its "
                    f"RunTestsIn{place.title} cases, and it has none: a case counts with stage "
                    "staging and without stage smoke (smoke cases run in the deployment's hook, "
                    "where this drill does not break them)"
                )
            return _Defect(False, names, events)
        smoke = [c for c in cases if "smoke" in c.stages]
        errors = [a for a in place.function(function).alarms if a.metric_name == "Errors"]
        if kind in BAKES:
            # A leak: the smoke cases and the canary's requests pass, the users who keep
            # coming while the release bakes run it out, and the errors alarm sees them.
            after = len(smoke) + TRAFFIC_REQUESTS
            failing = BAKE_REQUESTS - after
            if not self.traffic_events(function) or not any(a.threshold <= failing for a in errors):
                raise AppError(
                    f"{kind} makes {function} fail in {place.name} once its users have made "
                    f"{after} requests, and nothing would catch it while it bakes: no errors "
                    f"alarm that {max(failing, 0)} failing requests set off "
                    "(AlarmSettings.errors_threshold)"
                )
            return _Defect(True, names, None, after)
        # The users' few requests must be enough errors to set the errors alarm off.
        watched = bool(self.traffic_events(function)) and any(
            a.threshold <= TRAFFIC_REQUESTS for a in errors
        )
        library_hook = bool(place.runs_library_hook and smoke)
        if not (library_hook or place.own_hooks or watched):
            raise AppError(
                f"{kind} makes {function} fail in {place.name}, and nothing would catch it "
                f"there: no errors alarm that {TRAFFIC_REQUESTS} failing requests set off "
                f"(AlarmSettings.errors_threshold), and no smoke hook ({SMOKE_TESTS!r} with "
                "smoke cases, or your own)"
            )
        return _Defect(True, names, None)


def _released(path: Path) -> bool:
    """Whether a file of the app directory goes into the release: node_modules does, as the build
    packages it; caches do not."""
    return "__pycache__" not in path.parts and "/node_modules/.cache/" not in f"/{path.as_posix()}"


def _install(requirements: Path) -> dict[str, bytes]:
    """The files that `pip install -r requirements.txt -t` puts into the release, as the build
    runs it (from the requirements' directory, with pip's own index settings), without the
    bytecode the build removes; once per requirements file and content in this process."""
    requirements = requirements.resolve()
    text = requirements.read_bytes()
    key = hashlib.sha256(str(requirements).encode() + b"\0" + text).hexdigest()
    if key not in _installed:
        with tempfile.TemporaryDirectory(prefix="rehearsal-requirements-") as target:
            done = subprocess.run(
                [
                    *(sys.executable, "-m", "pip", "install", "-q"),
                    *("--disable-pip-version-check", "-r", str(requirements), "-t", target),
                ],
                cwd=requirements.parent,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise AppError(
                    f"{requirements}: pip install -r {requirements.name} -t failed, and so would "
                    f"the build: {done.stderr.strip()[-1500:] or done.stdout.strip()[-1500:]}"
                )
            root = Path(target)
            _installed[key] = {
                path.relative_to(root).as_posix(): path.read_bytes()
                for path in sorted(root.rglob("*"))
                if path.is_file() and "__pycache__" not in path.relative_to(root).parts
            }
    return _installed[key]


def open_app(directory: str, application: ApplicationLayout, manifest: str) -> UserApp:
    """The application directory as release source, with the requirements.txt of the current
    directory (the build installs the repository root's); AppError says what is wrong."""
    return UserApp(Path(directory), application, manifest, Path(REQUIREMENTS))

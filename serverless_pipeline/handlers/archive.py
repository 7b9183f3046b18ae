"""Pure checks of a release archive: size, safety, each function's entry point for its runtime,
syntax, native code for the functions' architectures, test manifest.

Nothing here executes the release's code: Python files are compiled, never imported, JavaScript is
read as text and native files only by their headers, so a hostile artifact cannot run inside the
validate function with its role.
"""

from __future__ import annotations

import ast
import io
import json
import stat
import zipfile
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

from . import javascript, native, runtimes
from .errors import (
    ArtifactCorrupt,
    ArtifactTooLarge,
    HandlerNotFound,
    InvalidTestManifest,
    SourceDoesNotCompile,
    UnsafeArtifact,
    WrongArchitecture,
)
from .settings import Function

# Lambda's limit for a deployment package once unzipped.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
# Lambda sets no limit on entries; a Node.js release's node_modules often holds tens of
# thousands of files. The size and ratio limits guard against a zip bomb.
MAX_ENTRIES = 50_000
# A compression ratio past this is a zip bomb, not source code (text compresses ~3-10x).
MAX_COMPRESSION_RATIO = 100
MAX_MANIFEST_BYTES = 1024 * 1024
# Compiling a source file takes up to ~250 times its size in memory (measured on a file of one
# short statement per line), so the application's own files are compiled only up to this size:
# the handlers' memory holds a whole release beside it (defaults.HANDLER_MEMORY_MB).
MAX_SOURCE_BYTES = 1024 * 1024
MAX_TEST_CASES = 200
# Where a case runs: against the candidate code; "staging": through the live alias of every
# environment but the last (RunTestsIn<Env>); and (opt-in, since it also runs in production) as
# a smoke test in the traffic hook before an alias shifts.
TEST_STAGES = ("candidate", "staging", "smoke")
DEFAULT_STAGES = ("candidate", "staging")
# Where Lambda looks for a Node.js handler's module, in its order (the runtime interface client's
# module loader; "Define Lambda function handler in Node.js").
NODE_EXTENSIONS = (".js", ".mjs", ".cjs")
# A Java function's classpath in a .zip release: classes at its root, dependencies as jars in lib/
# ("Deploy Java Lambda functions with .zip or JAR file archives").
JAVA_LIBRARIES = "lib/"
BOOTSTRAP = "bootstrap"
# Folders whose native files the loader picks by the machine it runs on: .NET's
# runtimes/<rid>/native/ (through the application's deps.json) and the prebuilds/<platform>-<arch>/
# of Node.js addons (node-gyp-build). A portable build ships one per platform, and only the
# machine's own is ever loaded, so the others are no mistake.
PLATFORM_FOLDERS = ("runtimes", "prebuilds")


@dataclass(frozen=True)
class TestCase:
    """One event and what the release's handler must return (or raise) for it."""

    __test__ = False  # not a pytest test class

    name: str
    event: Any
    expected: Any
    expected_error: str | None
    stages: tuple[str, ...]
    environment: dict[str, str]
    function: str | None = None
    """The application function the case calls; None: the first."""


@dataclass(frozen=True)
class ArchiveReport:
    entries: int
    unzipped_bytes: int
    python_files: int
    native_files: int
    test_cases: int


def open_archive(data: bytes | IO[bytes], name: str = "the artifact") -> zipfile.ZipFile:
    """The archive, after every entry has been checked against the safety limits. `data` is the
    release's bytes, or a stream of a jar inside it, which is read without being held whole."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ArtifactCorrupt(f"{name} is not a zip archive: {error}") from error
    members = archive.infolist()
    if len(members) > MAX_ENTRIES:
        raise ArtifactTooLarge(f"{name} has {len(members)} entries; at most {MAX_ENTRIES}")
    total = 0
    for member in members:
        _check_member(member)
        total += member.file_size
        if total > MAX_UNZIPPED_BYTES:
            raise ArtifactTooLarge(
                f"{name} unzips to more than {MAX_UNZIPPED_BYTES} bytes (Lambda's limit)"
            )
    return archive


def _check_member(member: zipfile.ZipInfo) -> None:
    name = member.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArtifact(f"archive entry {name!r} escapes the archive (absolute or '..')")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise UnsafeArtifact(f"archive entry {name!r} is a symbolic link; links are refused")
    if member.compress_size and member.file_size / member.compress_size > MAX_COMPRESSION_RATIO:
        raise UnsafeArtifact(
            f"archive entry {name!r} expands {member.file_size // member.compress_size}x; "
            f"at most {MAX_COMPRESSION_RATIO}x is accepted (zip bomb)"
        )


def read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """One entry's bytes, refusing to read past `limit` whatever the header claims."""
    with archive.open(name) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ArtifactTooLarge(f"archive entry {name!r} is larger than {limit} bytes")
    return data


def read_head(archive: zipfile.ZipFile, name: str, size: int) -> bytes:
    """The first `size` bytes of an entry, however large it is."""
    with archive.open(name) as stream:
        return stream.read(size)


def installed_files(archive: zipfile.ZipFile) -> set[str]:
    """The files pip installed into the release (listed in a *.dist-info/RECORD): dependencies
    come from wheels and are not compiled here, which keeps a large generated module of a
    dependency from costing the handler gigabytes; the application's own files are."""
    installed: set[str] = set()
    for name in archive.namelist():
        if PurePosixPath(name).name == "RECORD" and name.endswith(".dist-info/RECORD"):
            text = read_member(archive, name, MAX_MANIFEST_BYTES * 16).decode(errors="replace")
            installed.update(line.split(",", 1)[0] for line in text.splitlines())
    return installed


def check_sources(archive: zipfile.ZipFile) -> int:
    """Compile every Python file of the application; the count of files compiled."""
    count = 0
    installed = installed_files(archive)
    for name in archive.namelist():
        if not name.endswith(".py") or name in installed:
            continue
        if archive.getinfo(name).file_size > MAX_SOURCE_BYTES:
            raise ArtifactTooLarge(
                f"{name} is {archive.getinfo(name).file_size} bytes; the application's own "
                f"source files are compiled up to {MAX_SOURCE_BYTES} bytes each (installed "
                "dependencies, listed in a .dist-info/RECORD, are not compiled)"
            )
        source = read_member(archive, name, MAX_SOURCE_BYTES)
        try:
            compile(source, name, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            raise SourceDoesNotCompile(f"{name} does not compile: {error}") from error
        count += 1
    return count


def handler_location(handler: str) -> tuple[str, str]:
    """('pkg/module.py', 'function') for a Lambda handler string such as 'pkg.module.function'."""
    module, _, function = handler.rpartition(".")
    if not module or not function:
        raise HandlerNotFound(f"handler {handler!r} is not of the form module.function")
    return module.replace(".", "/") + ".py", function


def entry_point(runtime: str, handler: str, names: Collection[str]) -> str:
    """The file of the release that Lambda starts `handler` of `runtime` from: the Python or
    Node.js module, the Java class, the .NET assembly or the custom runtime's bootstrap. `names`
    are the release's files; for Java, with the classes of its jars under lib/ (java_classes)."""
    problem = runtimes.handler_problem(runtime, handler)
    if problem is not None:
        raise HandlerNotFound(f"{runtime} handler {problem}")
    kind = runtimes.family(runtime).name
    if kind == "python":
        candidates = [handler_location(handler)[0]]
        sought = f"handler module {candidates[0]}"
    elif kind == "nodejs":
        module = handler.rpartition(".")[0]
        candidates = [module + extension for extension in NODE_EXTENSIONS]
        sought = f"handler module {module} ({', '.join(candidates)})"
    elif kind == "java":
        name = handler.partition("::")[0]
        candidates = [name.replace(".", "/") + ".class"]
        sought = f"class {name} ({candidates[0]}, at the root or in a jar under {JAVA_LIBRARIES})"
    elif kind == "dotnet":
        candidates = [handler.partition("::")[0] + ".dll"]
        sought = f"assembly {candidates[0]} (at the root)"
    else:
        candidates = [BOOTSTRAP]
        sought = f"the custom runtime's executable {BOOTSTRAP} (at the root)"
    found = next((path for path in candidates if path in names), None)
    if found is None:
        raise HandlerNotFound(f"{sought} is not in the release")
    return found


def java_classes(archive: zipfile.ZipFile) -> set[str]:
    """The class files of the jars under lib/. Each jar is a zip of its own: it is held to the
    release's safety limits and only its central directory is read."""
    classes: set[str] = set()
    for name in archive.namelist():
        folder, _, file = name.rpartition("/")
        if f"{folder}/" == JAVA_LIBRARIES and file.endswith(".jar"):
            with archive.open(name) as stream, open_archive(stream, name) as jar:
                classes.update(entry for entry in jar.namelist() if entry.endswith(".class"))
    return classes


def check_entry_points(archive: zipfile.ZipFile, functions: Sequence[Function]) -> None:
    """Every function's entry point is in the release, and what of it can be seen without running
    it is right: the Python function is defined, the Node.js export exists, the bootstrap can be
    started on the function's architecture. The jars are read only for a class not at the root."""
    names = set(archive.namelist())
    classes: set[str] | None = None
    seen: set[tuple[str, str, str, tuple[str, ...]]] = set()
    for function in functions:
        code = (function.runtime, function.handler, function.architecture, function.layers)
        if code in seen:
            continue
        seen.add(code)
        kind = runtimes.family(function.runtime).name
        if kind == "provided" and function.layers and BOOTSTRAP not in names:
            # "If the root of your deployment package doesn't contain a file named bootstrap,
            # Lambda looks for the file in the function's layers" ("Building a custom runtime
            # for AWS Lambda", Entrypoint), which validate does not see.
            continue
        try:
            # Once read, the jars' classes only add .class files, which no other runtime seeks.
            path = entry_point(function.runtime, function.handler, classes or names)
        except HandlerNotFound:
            if kind != "java" or classes is not None:
                raise
            classes = names | java_classes(archive)
            path = entry_point(function.runtime, function.handler, classes)
        if kind == "python":
            check_handler(archive, path, handler_location(function.handler)[1])
        elif kind == "nodejs":
            check_export(archive, path, function.handler.rpartition(".")[2])
        elif kind == "provided":
            check_bootstrap(archive, function)


def check_handler(archive: zipfile.ZipFile, path: str, function: str) -> None:
    """The handler's module defines the function at its top level."""
    tree = ast.parse(read_member(archive, path, MAX_SOURCE_BYTES), path)
    defined = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    } | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    if function not in defined:
        raise HandlerNotFound(f"{path} defines no top-level function {function!r}")


def check_export(archive: zipfile.ZipFile, path: str, export: str) -> None:
    """The handler's Node.js module exports `export`, when its exports can be read (see
    javascript.py). A module past the source size limit, usually a bundle, is not read: finding
    it is all that is checked."""
    if archive.getinfo(path).file_size > MAX_SOURCE_BYTES:
        return
    source = read_member(archive, path, MAX_SOURCE_BYTES).decode(errors="replace")
    names = javascript.exported_names(source)
    if names is not None and export not in names:
        exported = ", ".join(sorted(names)) or "nothing"
        raise HandlerNotFound(f"{path} exports no {export!r}; it exports {exported:.200}")


def check_bootstrap(archive: zipfile.ZipFile, function: Function) -> None:
    """Lambda can start the release's bootstrap for `function`: "If the bootstrap file doesn't
    exist or isn't executable, your function returns a Runtime.InvalidEntrypoint error upon
    invocation" (Lambda developer guide, "Building a custom runtime for AWS Lambda",
    Entrypoint), that is only once the release is deployed."""
    mode = archive.getinfo(BOOTSTRAP).external_attr >> 16
    if not mode:
        raise HandlerNotFound(
            f"{BOOTSTRAP} has no Unix file mode: the release was zipped by a tool that drops "
            "modes, and Lambda runs bootstrap only if it is executable; zip it with a tool that "
            "keeps the executable bit (zip does) after chmod 755 bootstrap"
        )
    if not mode & 0o111:
        raise HandlerNotFound(
            f"{BOOTSTRAP} has mode {stat.S_IMODE(mode):04o}; Lambda runs it only if it is "
            "executable: chmod 755 bootstrap before zipping the release"
        )
    header = read_head(archive, BOOTSTRAP, native.HEADER_BYTES)
    kind = native.executable_kind(header)
    if kind is not None:
        raise HandlerNotFound(
            f"{BOOTSTRAP} is {kind}; Lambda starts an ELF executable for Linux or a script "
            "starting with #!"
        )
    machine = native.machine(header)
    if machine is not None and native.architecture(machine) != function.architecture:
        raise WrongArchitecture(
            f"{BOOTSTRAP} is {native.machine_name(machine)} code but function {function.name} "
            f"runs on {function.architecture}"
        )


def check_architectures(archive: zipfile.ZipFile, architectures: Collection[str]) -> int:
    """Every native file of the release (an ELF shared library, Node.js addon, bootstrap or
    other executable) is code for an architecture the release's functions run on; the count of
    native files. Functions of both architectures share the release's files, and which of them
    loads a file cannot be told from the outside: then each file needs only be x86_64 or arm64
    code (a Python extension for each is named by its architecture; a custom runtime's bootstrap
    is held to its own function's, check_bootstrap). Files of a PLATFORM_FOLDERS folder are
    loaded only on their own platform and are not held to the functions' architectures."""
    count = 0
    for info in archive.infolist():
        if not _may_be_native(info):
            continue
        machine = native.machine(read_head(archive, info.filename, native.HEADER_BYTES))
        if machine is None:
            continue
        count += 1
        built_for = native.architecture(machine)
        if built_for in architectures or _picked_by_platform(info.filename):
            continue
        accepted = " or ".join(sorted(architectures))
        if built_for is None:
            raise WrongArchitecture(
                f"{info.filename} is {native.machine_name(machine)} code, which no Lambda "
                f"function runs; the release's functions run on {accepted}"
            )
        raise WrongArchitecture(
            f"{info.filename} is {built_for} code but the release's functions run on {accepted}; "
            f"build it for {accepted} or leave it out of the release"
        )
    return count


def _may_be_native(info: zipfile.ZipInfo) -> bool:
    """Whether an entry is of a kind that holds native code: the rest is not opened."""
    if info.is_dir():
        return False
    file = PurePosixPath(info.filename).name
    named = file == BOOTSTRAP or file.endswith((".so", ".node")) or ".so." in file
    return named or bool((info.external_attr >> 16) & 0o111)


def _picked_by_platform(name: str) -> bool:
    folders = name.split("/")[:-2]
    return any(folder in PLATFORM_FOLDERS for folder in folders)


def load_manifest(archive: zipfile.ZipFile, path: str) -> list[TestCase]:
    """The release's test cases from the JSON manifest at `path` inside the archive."""
    if path not in archive.namelist():
        raise InvalidTestManifest(f"the test manifest {path} is not in the release")
    raw = read_member(archive, path, MAX_MANIFEST_BYTES)
    return parse_manifest(raw, path)


def parse_manifest(raw: bytes, path: str) -> list[TestCase]:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InvalidTestManifest(f"{path} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidTestManifest(f"{path} is not valid JSON: {error}") from error
    cases = document.get("cases") if isinstance(document, dict) else None
    if not isinstance(cases, list) or not cases:
        raise InvalidTestManifest(f"{path} must be an object with a non-empty list 'cases'")
    if len(cases) > MAX_TEST_CASES:
        raise InvalidTestManifest(f"{path} has {len(cases)} cases; at most {MAX_TEST_CASES}")
    return [_parse_case(case, index, path) for index, case in enumerate(cases)]


def _parse_case(case: Any, index: int, path: str) -> TestCase:
    where = f"{path} cases[{index}]"
    if not isinstance(case, dict):
        raise InvalidTestManifest(f"{where} must be an object")
    name = case.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidTestManifest(f"{where}.name must be a non-empty string")
    if "event" not in case:
        raise InvalidTestManifest(f"{where} ({name}) has no 'event'")
    has_result, error = "expected" in case, case.get("expected_error")
    if has_result == (error is not None):
        raise InvalidTestManifest(f"{where} ({name}) needs exactly one of expected, expected_error")
    if error is not None and (not isinstance(error, str) or not error):
        raise InvalidTestManifest(f"{where} ({name}).expected_error must be an error type name")
    stages = case.get("stages", list(DEFAULT_STAGES))
    if not isinstance(stages, list) or not stages or any(s not in TEST_STAGES for s in stages):
        raise InvalidTestManifest(
            f"{where} ({name}).stages is {stages!r:.80}; "
            f"expected a list of {', '.join(TEST_STAGES)}"
        )
    environment = case.get("environment", {})
    if not isinstance(environment, dict) or any(
        not isinstance(k, str) or not isinstance(v, str) for k, v in environment.items()
    ):
        raise InvalidTestManifest(f"{where} ({name}).environment must map strings to strings")
    function = case.get("function")
    if function is not None and (not isinstance(function, str) or not function):
        raise InvalidTestManifest(f"{where} ({name}).function must be a function's name")
    return TestCase(
        name, case["event"], case.get("expected"), error, tuple(stages), environment, function
    )


def check_functions(cases: list[TestCase], functions: Sequence[str], path: str) -> None:
    """Every case that names a function names one of the application's."""
    for case in cases:
        if case.function is not None and case.function not in functions:
            raise InvalidTestManifest(
                f"{path} case {case.name!r} calls function {case.function!r}; the application's "
                f"functions are {', '.join(functions)}"
            )


def inspect(data: bytes, functions: Sequence[Function], manifest_path: str) -> ArchiveReport:
    """Every check validate makes on the archive's bytes for the application's `functions`, in
    order of cost. Python files are compiled only when a function runs Python: another
    language's release may carry Python files it never runs (a build tool's scripts)."""
    archive = open_archive(data)
    # An image function's code is in the release's image (handlers/images.py), not in the zip.
    zipped = [function for function in functions if function.package_type != "Image"]
    kinds = {runtimes.family(function.runtime).name for function in zipped}
    python_files = check_sources(archive) if "python" in kinds else 0
    check_entry_points(archive, zipped)
    native_files = check_architectures(archive, {function.architecture for function in zipped})
    cases = load_manifest(archive, manifest_path)
    check_functions(cases, [function.name for function in functions], manifest_path)
    infos = archive.infolist()
    return ArchiveReport(
        len(infos), sum(i.file_size for i in infos), python_files, native_files, len(cases)
    )

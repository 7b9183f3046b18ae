"""Pure checks of a release archive: size, safety, handler presence, syntax, test manifest.

Nothing here executes the release's code: Python files are compiled, never imported, so a hostile
artifact cannot run inside the validate function with its role.
"""

from __future__ import annotations

import ast
import io
import json
import stat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from .errors import (
    ArtifactCorrupt,
    ArtifactTooLarge,
    HandlerNotFound,
    InvalidTestManifest,
    SourceDoesNotCompile,
    UnsafeArtifact,
)

# Lambda's limit for a deployment package once unzipped.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
MAX_ENTRIES = 10_000
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
    test_cases: int


def open_archive(data: bytes) -> zipfile.ZipFile:
    """The archive, after every entry has been checked against the safety limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise ArtifactCorrupt(f"the artifact is not a zip archive: {error}") from error
    members = archive.infolist()
    if len(members) > MAX_ENTRIES:
        raise ArtifactTooLarge(f"the archive has {len(members)} entries; at most {MAX_ENTRIES}")
    total = 0
    for member in members:
        _check_member(member)
        total += member.file_size
        if total > MAX_UNZIPPED_BYTES:
            raise ArtifactTooLarge(
                f"the archive unzips to more than {MAX_UNZIPPED_BYTES} bytes (Lambda's limit)"
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


def check_handler(archive: zipfile.ZipFile, handler: str) -> None:
    """The handler's module is in the archive and defines the function at its top level."""
    path, function = handler_location(handler)
    if path not in archive.namelist():
        raise HandlerNotFound(f"handler module {path} is not in the release")
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


def inspect(data: bytes, handlers: Mapping[str, str], manifest_path: str) -> ArchiveReport:
    """Every check validate makes on the archive's bytes, in order of cost; `handlers` maps
    each function of the application to its handler."""
    archive = open_archive(data)
    python_files = check_sources(archive)
    for handler in dict.fromkeys(handlers.values()):
        check_handler(archive, handler)
    cases = load_manifest(archive, manifest_path)
    check_functions(cases, list(handlers), manifest_path)
    infos = archive.infolist()
    return ArchiveReport(len(infos), sum(i.file_size for i in infos), python_files, len(cases))

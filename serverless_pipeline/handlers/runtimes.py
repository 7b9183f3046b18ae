"""The Lambda runtimes an application function may use, and what each makes of its handler.

One table for every reader: the configuration's checks at synth time, the build, validate (which
looks for each function's entry point in the release without running any of it) and the
rehearsal. It lives among the handlers because validate reads it inside Lambda, where nothing
else of the package is installed.

Source: the Lambda developer guide, "Lambda runtimes" (supported runtimes and their deprecation
dates) and each language's "Define Lambda function handler" page for the handler's form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The newest Python runtime that Lambda and the provider bindings both accept: the handlers' own,
# and an application function's unless it names another.
DEFAULT_RUNTIME = "python3.13"
ARCHITECTURES = ("x86_64", "arm64")
DEFAULT_ARCHITECTURE = "x86_64"


@dataclass(frozen=True)
class Family:
    """A language whose runtimes take a handler of one form."""

    name: str
    handler: str
    """The handler's form, as a regular expression."""
    handler_accepted: str
    """The form in words, for an error message."""


PYTHON = Family(
    "python",
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+",
    "module.function, e.g. app.handler",
)
NODEJS = Family(
    "nodejs",
    # Directories, never "." or ".." (Lambda's runtime refuses those as a malformed handler).
    r"((?!\.{1,2}/)[A-Za-z0-9_.@-]+/)*[A-Za-z0-9_@-][A-Za-z0-9_@-]*\.[A-Za-z_$][A-Za-z0-9_$]*",
    "path/file.export, e.g. index.handler or src/api.handler (module file.js, .mjs or .cjs)",
)
JAVA = Family(
    "java",
    r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*(::[A-Za-z_$][\w$]*)?",
    "package.Class::method or package.Class, e.g. example.Handler::handleRequest",
)
DOTNET = Family(
    "dotnet",
    r"[\w.-]+(::[\w.]+::[\w]+)?",
    "Assembly::Namespace.Class::Method, or the assembly's name for an executable assembly",
)
PROVIDED = Family(
    "provided",
    r"[^\s]{1,128}",
    "any name the bootstrap understands (commonly bootstrap); the release holds an "
    "executable bootstrap at its root",
)

RUNTIMES: dict[str, Family] = {
    "nodejs22.x": NODEJS,
    "nodejs24.x": NODEJS,
    "python3.12": PYTHON,
    "python3.13": PYTHON,
    "python3.14": PYTHON,
    "java21": JAVA,
    "java25": JAVA,
    "dotnet10": DOTNET,
    "provided.al2023": PROVIDED,
}
"""Every runtime an application function may use: Lambda supports it and has not deprecated it
(December 2026: nodejs20.x was deprecated on 2026-04-30, python3.11 and java17 on 2026-06-30 with
Amazon Linux 2, dotnet8 on 2026-11-10)."""

DEPRECATED = (
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "dotnet6",
    "dotnet7",
    "dotnet8",
    "dotnetcore3.1",
    "go1.x",
    "ruby2.7",
    "ruby3.2",
    "provided",
    "provided.al2",
)
"""Runtimes Lambda has deprecated (or is about to, with Amazon Linux 2): refused by name."""


def family(runtime: str) -> Family:
    """The language of a supported runtime."""
    return RUNTIMES[runtime]


def runtime_problem(runtime: object) -> str | None:
    """Why `runtime` cannot be an application function's runtime, or None: the value and what
    would be accepted, to follow the property's name."""
    if runtime in RUNTIMES:
        return None
    accepted = ", ".join(RUNTIMES)
    if runtime in DEPRECATED:
        return f"is {runtime!r}, which Lambda has deprecated; expected one of {accepted}"
    return f"is {runtime!r}; expected one of {accepted}"


def handler_problem(runtime: str, handler: object) -> str | None:
    """Why `handler` is not of the form `runtime` takes, or None (as `runtime_problem`)."""
    form = RUNTIMES[runtime]
    if isinstance(handler, str) and re.fullmatch(form.handler, handler):
        return None
    return f"is {handler!r}; expected {form.handler_accepted}"

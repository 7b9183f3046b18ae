"""What the site generates from the code stays the code's: the state machine diagram, and a
docstring and a reference page for every public name."""

from __future__ import annotations

import re

import griffe

import serverless_pipeline
from serverless_pipeline.diagram import mermaid
from tests.docs.pages import DIAGRAM, DOCS, ROOT


def test_the_diagram_is_the_state_machine() -> None:
    assert DIAGRAM.read_text() == f"```mermaid\n{mermaid()}```\n", (
        f"{DIAGRAM.relative_to(ROOT)} is stale: run `make docs-diagram`"
    )


def test_every_public_name_has_a_docstring() -> None:
    # As the reference pages read them (statically, with griffe): a class, a function, and a
    # constant or type alias with the string literal that follows its assignment.
    package = griffe.load("serverless_pipeline", search_paths=[str(ROOT)])
    undocumented = []
    # public name -> the module that defines it (the package loads each on first use)
    for name, module in serverless_pipeline._EXPORTS.items():
        target = package[f"{module.lstrip('.')}.{name}"]
        if target.docstring is None or not target.docstring.value.strip():
            undocumented.append(name)
        for member_name, member in target.members.items():
            if member_name.startswith("_") or member.is_alias:
                continue
            if member.is_function and not (member.docstring and member.docstring.value.strip()):
                undocumented.append(f"{name}.{member_name}")
    assert undocumented == []


def test_every_public_name_is_on_a_reference_page() -> None:
    text = "\n".join(p.read_text() for p in sorted((DOCS / "reference" / "api").glob("*.md")))
    shown = {line.rsplit(".", 1)[-1] for line in re.findall(r"^::: (\S+)$", text, re.M)}
    missing = set(serverless_pipeline.__all__) - shown - {"__version__"}
    assert missing == set(), "add a `::: module.Name` line to docs/reference/api/"

"""The documentation's files, for the tests that hold them to the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
DIAGRAM = DOCS / "snippets" / "state-machine.md"
# A fenced block: its opening fence's info string, and its body.
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def pages() -> list[Path]:
    """Every page of the site (the snippets it includes are not pages)."""
    return sorted(p for p in DOCS.rglob("*.md") if "snippets" not in p.relative_to(DOCS).parts)


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """(line, code) of each ```python block of a page."""
    text = page.read_text()
    return [
        (text.count("\n", 0, match.start()) + 1, match.group("body"))
        for match in FENCE.finditer(text)
        if match.group("info").strip() == "python"
    ]

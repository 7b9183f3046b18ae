"""Every Python block of the documentation and of the README runs, as it stands, so no page can
drift from the code. Each block is complete (its own imports) and runs in a directory of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.pages import ROOT, pages, python_blocks

BLOCKS = [
    pytest.param(page, line, code, id=f"{page.relative_to(ROOT)}:{line}")
    for page in [*pages(), ROOT / "README.md"]
    for line, code in python_blocks(page)
]


def test_the_guides_show_python() -> None:
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize(("page", "line", "code"), BLOCKS)
def test_the_block_runs(
    page: Path, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A synth writes cdktf.out into the working directory. The blank lines before the code
    # make a traceback's line numbers the page's.
    monkeypatch.chdir(tmp_path)
    exec(compile("\n" * line + code, str(page), "exec"), {"__name__": "__docs__"})

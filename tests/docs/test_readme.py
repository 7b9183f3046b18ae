"""README.md is the front door and nothing more: what the library is, the two commands, a quick
start of one screen and links into the documentation, every one of which resolves."""

from __future__ import annotations

import re

from tests.docs.pages import ROOT

README = (ROOT / "README.md").read_text()


def test_the_readme_holds_only_the_front_door() -> None:
    sections = re.findall(r"^## (.+)$", README, re.M)
    assert sections == ["Two commands", "Quick start", "Documentation"]
    assert "make synth" in README and "make test" in README
    assert len(README.splitlines()) <= 120


def test_the_readme_links_resolve() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if "://" not in t]
    assert local
    assert [t for t in local if not (ROOT / t).exists()] == []

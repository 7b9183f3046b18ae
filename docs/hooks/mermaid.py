"""Serve Mermaid from the site itself: the copy npm installed (package.json pins it) becomes
assets/javascripts/mermaid.min.js, which mkdocs.yml loads, so diagrams render offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
TARGET = "assets/javascripts/mermaid.min.js"


def on_files(files: Files, config: Any) -> Files:
    if not SOURCE.is_file():
        raise PluginError(f"{SOURCE} is missing: run `npm ci` (make docs does)")
    files.append(File.generated(config, TARGET, abs_src_path=str(SOURCE)))
    return files

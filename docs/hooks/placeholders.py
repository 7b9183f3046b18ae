"""A griffe extension for the reference pages: the docstrings name placeholders in angle
brackets (`<name>-<environment>`, `executions/<execution>/...`), which Markdown would take for
HTML tags and drop. Outside code spans, `<` is written as the character it means."""

from __future__ import annotations

import re
from typing import Any

import griffe

# A code span (kept as it is) or an angle bracket that opens a placeholder.
_SPAN_OR_PLACEHOLDER = re.compile(r"(`+)(?:.+?)\1|<(?=[A-Za-z_][\w-]*>)", re.DOTALL)


def escape(text: str) -> str:
    """`text` with every placeholder's `<` outside code spans escaped for Markdown."""
    return _SPAN_OR_PLACEHOLDER.sub(lambda m: m.group(0) if m.group(1) else "&lt;", text)


class EscapePlaceholders(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = escape(obj.docstring.value)

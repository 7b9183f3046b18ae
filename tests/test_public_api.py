"""The public API is documented: every exported class, and every field of exported props."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap

import serverless_pipeline


def undocumented_fields(cls: type) -> list[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    missing = []
    for index, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            following = body[index + 1] if index + 1 < len(body) else None
            documented = (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            )
            if not documented:
                missing.append(f"{cls.__name__}.{node.target.id}")
    return missing


def test_every_exported_class_and_props_field_has_a_docstring() -> None:
    missing = []
    for name in serverless_pipeline.__all__:
        value = getattr(serverless_pipeline, name)
        if not inspect.isclass(value):
            continue
        if not inspect.getdoc(value):
            missing.append(name)
        if dataclasses.is_dataclass(value):
            missing += undocumented_fields(value)
    assert missing == []


def test_the_version_is_single_sourced() -> None:
    from importlib.metadata import version

    assert version("cdktf-serverless-pipeline") == serverless_pipeline.__version__

"""UpdateFunctionCode's architecture, which moto ignores.

Lambda takes a function's instruction set with its code: UpdateFunctionCode's `Architectures`
changes it (the Lambda API reference), and run_tests gives the candidate function each case's
architecture that way. moto keeps the architecture the function was created with; here the
update sets it, so a published version reports the architecture its cases ran on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction


@contextmanager
def architectures_follow_code() -> Iterator[None]:
    """Within this block, UpdateFunctionCode with Architectures changes the function's."""
    original = LambdaFunction.update_function_code

    def update_function_code(function: LambdaFunction, spec: dict[str, Any]) -> dict[str, Any]:
        if spec.get("Architectures"):
            function.architectures = list(spec["Architectures"])
        result: dict[str, Any] = original(function, spec)
        return result

    with mock.patch.object(LambdaFunction, "update_function_code", update_function_code):
        yield

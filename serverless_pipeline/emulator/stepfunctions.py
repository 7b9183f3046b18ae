"""Repeated executions of one state machine in moto's Step Functions interpreter.

moto deep-copies the state machine at every StartExecution, including the executions it already
ran, whose worker threads hold locks that cannot be copied: the second execution of a machine
fails. The copy only needs the definition, so executions are shared, not copied.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.stepfunctions.models import StateMachineInstance


def _copy_without_executions(machine: StateMachineInstance, memo: dict[int, Any]) -> Any:
    clone = copy.copy(machine)
    memo[id(machine)] = clone
    for name, value in vars(machine).items():
        setattr(clone, name, value if name == "executions" else copy.deepcopy(value, memo))
    return clone


@contextmanager
def repeatable_executions() -> Iterator[None]:
    """Within this block a state machine can be started any number of times."""
    with mock.patch.object(
        StateMachineInstance, "__deepcopy__", _copy_without_executions, create=True
    ):
        yield

"""moto's Step Functions interpreter, made to run a pipeline's executions back to back.

moto deep-copies the state machine at every StartExecution, including the executions it already
ran, whose worker threads hold locks that cannot be copied: the second execution of a machine
fails. The copy only needs the definition, so executions are shared, not copied.

Wait states sleep for real in moto. The emulator's time is virtual instead (emulator/clock.py): a
Wait state moves the emulator's clock on by its seconds and ends at once, so a rehearsal runs the
configuration's real poll interval without waiting it out, and a canary that takes 30 minutes
is polled as often as in AWS.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.stepfunctions.models import StateMachineInstance
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)

from .clock import CLOCK


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


# (Wait state's name, its seconds) -> None: what happens while a Wait state's time passes.
Meanwhile = Callable[[str, int], None]


@contextmanager
def virtual_waits(meanwhile: Meanwhile | None = None) -> Iterator[None]:
    """Within this block Wait states take no real time: they advance the emulator's clock,
    after `meanwhile` was told which state waits (users go on using the application)."""

    def waited(function: WaitFunction, env: Any, wait_seconds: int) -> None:
        if meanwhile is not None:
            meanwhile(env.states.context_object.context_object_data["State"]["Name"], wait_seconds)
        CLOCK.advance(wait_seconds)

    with mock.patch.object(WaitFunction, "_wait_interval", waited):
        yield

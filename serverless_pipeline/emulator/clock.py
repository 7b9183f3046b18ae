"""Virtual time for the emulator: the configuration's real intervals, passed in moments.

AWS waits: a Wait state for its seconds, a task for its TimeoutSeconds (a person's approval for
hours), CodeDeploy for a canary's interval, CloudWatch for an alarm's period. The emulator keeps
every one of those values as configured and lets them pass on a clock of its own instead: the
clock runs with real time, and jumps ahead when the emulator says time passes (a canary's
interval, a person who does not answer). Metrics are stamped with it, alarms evaluate on it, and
moto's task timeouts count on it, so a 4-hour approval timeout ends as soon as the rehearsal
decides that nobody answers, and it ends as a timeout, as in AWS.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from unittest import mock

from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

# How often a waiter looks at the clock again; an event that is set wakes it at once.
_TICK_SECONDS = 0.01
# The machine's clock, which the virtual one runs on (function code reads the virtual one).
_real_time = time.time


class VirtualClock:
    """Real time plus an offset that only grows while a rehearsal runs (starting_at sets it
    once, before)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()
        self._deadlines: list[float] = []

    def time(self) -> float:
        """Seconds since the epoch, on this clock."""
        return _real_time() + self._offset

    def now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.time(), datetime.UTC)

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass at once."""
        with self._lock:
            self._offset += max(seconds, 0.0)

    def next_whole_second(self) -> datetime.datetime:
        """Move to the second after the next whole one and return it: CloudWatch keeps metric
        timestamps to the second, so nothing stamped before this instant falls in or after it."""
        with self._lock:
            now = _real_time() + self._offset
            start = float(int(now) + 2)
            self._offset += start - now
        return datetime.datetime.fromtimestamp(start, datetime.UTC)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until `event` is set (True) or `seconds` have passed on this clock (False)."""
        deadline = self.time() + seconds
        with self._lock:
            self._deadlines.append(deadline)
        try:
            while not threading.Event.wait(event, _TICK_SECONDS):
                if self.time() >= deadline:
                    return event.is_set()
            return True
        finally:
            with self._lock:
                self._deadlines.remove(deadline)

    @contextmanager
    def starting_at(self, start: datetime.datetime | None) -> Iterator[datetime.datetime]:
        """Within this block the clock reads `start` on entry (by default: the time it reads
        now) and runs on from there; the instant it started is yielded. A pinned start makes a
        rehearsal's gates see the same weekday and hour on every machine and day; after the
        block the clock runs on from where it was (the next rehearsal is a new account)."""
        if start is None:
            yield self.now()
            return
        if start.tzinfo is None:  # a time without an offset is UTC, as on the command line
            start = start.replace(tzinfo=datetime.UTC)
        with self._lock:
            saved = self._offset
            self._offset = start.timestamp() - _real_time()
        try:
            yield start
        finally:
            with self._lock:
                self._offset = saved

    def advance_to_next_deadline(self) -> bool:
        """Let time pass until the earliest pending wait runs out; False when nothing waits."""
        with self._lock:
            if not self._deadlines:
                return False
            self._offset += max(min(self._deadlines) - (_real_time() + self._offset), 0.0)
            return True


CLOCK = VirtualClock()
"""The emulator's clock: metrics, alarms, deployments and Step Functions timeouts read it."""


class _VirtualEvent(threading.Event):
    """An event whose timed wait counts on the emulator's clock."""

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None:
            return super().wait()
        return CLOCK.wait(self, timeout)


def _callback_wait(endpoint: CallbackEndpoint, timeout: float | None = None) -> Any:
    """A task token's wait, on the emulator's clock."""
    event = endpoint._notify_event
    if timeout is None:
        event.wait()
    else:
        CLOCK.wait(event, timeout)
    return endpoint._outcome


@contextmanager
def virtual_timeouts() -> Iterator[VirtualClock]:
    """Within this block Step Functions' task timeouts (TimeoutSeconds, a task token's wait)
    count on the emulator's clock."""
    threads = SimpleNamespace(
        **{name: getattr(threading, name) for name in dir(threading) if not name.startswith("__")}
    )
    threads.Event = _VirtualEvent
    with (
        mock.patch.object(execute_state, "threading", threads),
        mock.patch.object(CallbackEndpoint, "wait", _callback_wait),
    ):
        yield CLOCK

"""SSM Change Calendars in moto, which has none: GetCalendarState answers from calendars the
emulator sets (OPEN or CLOSED, and when that changes, on the emulator's clock)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from moto.core.responses import ActionResult
from moto.ssm.exceptions import InvalidDocument
from moto.ssm.responses import SimpleSystemManagerResponse

from .clock import CLOCK

# (account, region, calendar) -> (state, when it changes or None)
_CALENDARS: dict[tuple[str, str, str], tuple[str, datetime.datetime | None]] = {}


def set_calendar(
    account_id: str,
    region: str,
    name: str,
    state: str,
    changes_at: datetime.datetime | None = None,
) -> None:
    """Put a Change Calendar in `state` (OPEN or CLOSED) until `changes_at` (None: no change
    is scheduled)."""
    _CALENDARS[(account_id, region, name)] = (state, changes_at)


@contextmanager
def change_calendars() -> Iterator[None]:
    """Within this block GetCalendarState reads the calendars `set_calendar` made; one that
    was never set does not exist."""

    def get_calendar_state(response: SimpleSystemManagerResponse) -> ActionResult:
        names = response._get_param("CalendarNames", [])
        now = CLOCK.now()
        states = []
        changes = []
        for name in names:
            key = (response.current_account, response.region, name.rsplit("/", 1)[-1])
            if key not in _CALENDARS:
                raise InvalidDocument(f"Calendar {name} does not exist")
            state, at = _CALENDARS[key]
            if at is not None and now >= at:
                state, at = ("OPEN" if state == "CLOSED" else "CLOSED"), None
            states.append(state)
            if at is not None:
                changes.append(at)
        result = {
            "State": "OPEN" if all(s == "OPEN" for s in states) else "CLOSED",
            "AtTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if changes:
            result["NextTransitionTime"] = min(changes).strftime("%Y-%m-%dT%H:%M:%SZ")
        return ActionResult(result)

    with mock.patch.object(
        SimpleSystemManagerResponse, "get_calendar_state", get_calendar_state, create=True
    ):
        try:
            yield
        finally:
            _CALENDARS.clear()

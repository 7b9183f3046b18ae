"""The emulator's clock: configured intervals pass in moments, and only when the emulator says."""

from __future__ import annotations

import datetime
import threading

from serverless_pipeline.emulator.clock import VirtualClock


def test_a_wait_ends_when_its_event_is_set_or_its_time_has_passed() -> None:
    clock = VirtualClock()
    answered = threading.Event()
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(clock.wait(answered, 4 * 3600)))
    waiter.start()
    # Nobody answers: four hours pass at once, and the wait ends as a timeout.
    while not clock.advance_to_next_deadline():
        pass
    waiter.join(5)
    assert outcome == [False]
    assert not clock.advance_to_next_deadline()  # nothing waits any more
    answered.set()
    assert clock.wait(answered, 60) is True


def test_time_only_moves_forward_and_to_whole_seconds() -> None:
    clock = VirtualClock()
    before = clock.time()
    clock.advance(300)
    assert clock.time() >= before + 300
    first = clock.next_whole_second()
    second = clock.next_whole_second()
    assert first.microsecond == 0 and second > first
    assert first.timestamp() > before + 300


def test_a_pinned_start_is_utc_unless_it_names_an_offset_and_is_undone_after() -> None:
    clock = VirtualClock()
    before = clock.time()
    naive = datetime.datetime(2027, 1, 4, 9, 0)
    with clock.starting_at(naive) as started:
        assert started == datetime.datetime(2027, 1, 4, 9, 0, tzinfo=datetime.UTC)
        assert abs(clock.time() - started.timestamp()) < 5
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    with clock.starting_at(naive.replace(tzinfo=berlin)) as started:
        assert abs(clock.time() - started.timestamp()) < 5
        assert clock.now().hour == 8  # 09:00 in UTC+1
    # Afterwards the clock runs on from where it was.
    assert clock.time() >= before

"""Crash drills of traffic-hook: see tests/rehearsal/crash_drills.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rehearsal.crash_drills import every_crash_of

pytestmark = pytest.mark.slow


def test_every_crash_of_traffic_hook_leaves_one_known_release_everywhere(tmp_path: Path) -> None:
    every_crash_of("traffic-hook", tmp_path)

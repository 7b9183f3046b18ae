"""Crash drills of promote: see tests/rehearsal/crash_drills.py (the drills of each handler are
a module of their own, so that test workers share them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rehearsal.crash_drills import every_crash_of

pytestmark = pytest.mark.slow


def test_every_crash_of_promote_leaves_one_known_release_everywhere(tmp_path: Path) -> None:
    every_crash_of("promote", tmp_path)

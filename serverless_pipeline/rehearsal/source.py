"""Where a rehearsal's releases come from: the built-in sample app or your own directory."""

from __future__ import annotations

from typing import Any, Protocol

KINDS = (
    "ok",
    "validate",
    "unit-tests",
    "staging-deploy",
    "staging-tests",
    "production-deploy",
    "worker-staging-tests",
    "worker-production-deploy",
    "production-bake",
    "abort-staging",
    "abort-production",
)
# Kinds that fail only while the release bakes in the last environment (bake_minutes there).
BAKES = ("production-bake",)
# An operator stops the execution while that environment deploys (the first or the last): the
# release's code is sound.
ABORTS = {"abort-staging": "first", "abort-production": "last"}


class ReleaseSource(Protocol):
    """Builds each release of the rehearsal, and knows what the application's users send."""

    @property
    def kinds(self) -> tuple[str, ...]:
        """The release kinds it builds: ok and the drills."""

    def refusal(self, kind: str) -> str | None:
        """Why `kind` cannot be rehearsed with this configuration, or None."""

    def release_zip(self, kind: str, release: str) -> bytes:
        """The release zip of `kind`, as the build would package it."""

    def traffic_events(self, function: str) -> list[Any]:
        """The events the function's users send while a deployment shifts traffic to it."""

"""AWS clients, made once per execution environment and reused by its warm invocations.

Lambda's guidance: initialize SDK clients outside the handler, so that an invocation of a warm
environment does not pay for creating them again (tens of milliseconds each). A client is made
on first use, not at import, so that nothing talks to AWS before a handler runs.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3


@functools.cache
def client(service: str, region: str | None = None) -> Any:
    """The environment's client for `service` (in its own region unless one is named)."""
    return boto3.client(service, region_name=region)

"""Who hears about releases: a plain value, shared by the Notifications construct and the
configuration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .validation import Problems

# Protocol -> what its endpoint must look like.
ENDPOINTS = {
    "email": (r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address"),
    "email-json": (r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address"),
    "https": (r"https://[^\s]+", "an https:// URL (chat webhooks, incident tools)"),
    "sqs": (r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[\w-]+", "an SQS queue ARN"),
    "lambda": (r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]+", "a Lambda ARN"),
}


@dataclass(frozen=True)
class Subscriber:
    """Who hears about releases: protocol email, email-json, https, sqs or lambda."""

    protocol: str
    """email, email-json, https, sqs or lambda (chat tools: their https webhook)."""
    endpoint: str
    """The address, URL or ARN that receives the messages."""


def validate_subscribers(problems: Problems, subscribers: Sequence[Subscriber]) -> None:
    """Each subscriber's protocol is one SNS offers here, and its endpoint has that protocol's
    form."""
    for index, subscriber in enumerate(subscribers):
        where = f"subscribers[{index}]"
        if subscriber.protocol not in ENDPOINTS:
            problems.one_of(f"{where}.protocol", subscriber.protocol, ENDPOINTS)
            continue
        pattern, accepted = ENDPOINTS[subscriber.protocol]
        problems.pattern(f"{where}.endpoint", subscriber.endpoint, pattern, accepted)

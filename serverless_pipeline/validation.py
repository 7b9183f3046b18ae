"""Synth-time validation that reports every problem at once.

A construct collects each bad prop with the value it got and what it accepts, then raises one
`ConfigurationError` listing them all, so a user fixes a config in one round, not one per synth.
Values that are unresolved tokens (known only at apply time) are never judged.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import Any


class ConfigurationError(ValueError):
    """One or more construct props are invalid; `problems` lists each one."""

    def __init__(self, construct: str, problems: list[str]) -> None:
        self.construct = construct
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{construct}: {len(problems)} invalid setting(s):\n{lines}")


def is_token(value: Any) -> bool:
    """Whether value is an unresolved token of the engine the constructs build on. Until
    `serverless_pipeline.engine` is imported no construct exists, and so no token of ours: plain
    configuration checks (the rehearsal's) need no engine and no Node.js kernel."""
    engine = sys.modules.get("serverless_pipeline.engine")
    return engine is not None and isinstance(value, str) and bool(engine.Token.is_unresolved(value))


class Problems:
    """Collects problems for one construct; `raise_if_any` raises them together."""

    def __init__(self, construct: str) -> None:
        self.construct = construct
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def pattern(self, prop: str, value: str | None, pattern: str, accepted: str) -> None:
        if value is None or is_token(value):
            return
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            self.add(f"{prop} is {value!r}; expected {accepted}")

    def within(self, prop: str, value: int, low: int, high: int, unit: str = "") -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            suffix = f" {unit}" if unit else ""
            self.add(f"{prop} is {value!r}; expected a whole number from {low} to {high}{suffix}")

    def one_of(self, prop: str, value: Any, accepted: Iterable[Any]) -> None:
        choices = list(accepted)
        if value not in choices:
            self.add(f"{prop} is {value!r}; expected one of {', '.join(map(str, choices))}")

    def region(self, prop: str, value: str | None) -> None:
        """A region AWS has: a well-formed name such as eu-west-9 is still refused."""
        if value is None or is_token(value) or value in AWS_REGIONS:
            return
        self.add(
            f"{prop} is {value!r}; expected an AWS region such as eu-central-1 (one of "
            f"{len(AWS_REGIONS)} in the aws, aws-cn and aws-us-gov partitions)"
        )

    def raise_if_any(self) -> None:
        """Each problem once: settings two parts share (a retention, a name) may be judged by
        both."""
        if self.items:
            raise ConfigurationError(self.construct, list(dict.fromkeys(self.items)))


# The patterns AWS enforces, quoted in messages through `accepted`.
NAME_PREFIX = r"[a-z][a-z0-9-]{1,18}[a-z0-9]"
NAME_PREFIX_ACCEPTED = "3-20 lowercase letters, digits or '-', starting with a letter"
BUCKET_NAME = r"(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]"
BUCKET_NAME_ACCEPTED = "an S3 bucket name: 3-63 lowercase letters, digits or '-'"
FUNCTION_NAME = r"[A-Za-z0-9_-]{1,64}"
FUNCTION_NAME_ACCEPTED = "a Lambda function name: 1-64 letters, digits, '-' or '_'"
# The regions of the partitions Lambda, CodeDeploy and Step Functions are offered in to everyone
# (botocore's endpoint data, 2026): a region outside them is a typo or not open to accounts.
PARTITION_REGIONS = {
    "aws": [
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    ],
    "aws-cn": ["cn-north-1", "cn-northwest-1"],
    "aws-us-gov": ["us-gov-east-1", "us-gov-west-1"],
}
AWS_REGIONS = frozenset(r for regions in PARTITION_REGIONS.values() for r in regions)
ACCOUNT_ID = r"\d{12}"
ACCOUNT_ID_ACCEPTED = "an AWS account id: 12 digits"


def partition_of(region: str) -> str:
    """The partition of a known region (aws for the commercial regions)."""
    return next((p for p, regions in PARTITION_REGIONS.items() if region in regions), "aws")


"""The sample application the rehearsal releases, and its defective variants.

Three functions, released together: `api` (app.handler) prices orders, `worker`
(worker.handler) processes batches of order events, and `notifier` (notifier.handler, Node.js on
arm64) confirms orders to customers. Each kind is a complete release zip: source plus its own
test manifest. A defect is a real bug in the code, found by whichever stage would find it in AWS,
never a flag that the pipeline reads.
"""

from __future__ import annotations

import json
from typing import Any

from ..assets import zip_bytes
from .source import ABORTS, KINDS

PRICING = '''
def total(items, currency):
    """The order total; a non-empty order is required."""
    if not items:
        raise ValueError("an order needs at least one item")
    amount = sum(item["price"] * item["quantity"] for item in items)
    return {"amount": round(amount, 2), "currency": currency}
'''

# unit-tests: the quantity is forgotten, which the release's own test cases catch.
PRICING_WITHOUT_QUANTITY = PRICING.replace('item["price"] * item["quantity"]', 'item["price"]')

APP = """
import os

from pricing import total

{pool}
RELEASE = {release!r}
# Currency per stage; "local" is what the code sees outside Lambda (the candidate tests).
CURRENCIES = {currencies!r}
# The downstream service each stage's health check reaches.
DEPENDENCIES = {dependencies!r}


def handler(event, context):
    stage = os.environ.get("STAGE", "local")
    {connect}if event.get("healthcheck"):
        if stage not in DEPENDENCIES:
            raise RuntimeError(f"no downstream dependency configured for {{stage}}")
        return {{"healthy": True}}
    return {{"total": total(event["items"], CURRENCIES[stage])}}
"""

# production-bake: in production, whose database sits behind a pool of 6 connections, every
# request takes one and never gives it back. Each execution environment stays warm, as in Lambda:
# the smoke check and the canary's 5 requests pass; once it has served 6, every request fails:
# found only while the release serves production for a while (its bake).
LEAKY_POOL = """
POOL_SIZE = 6
_CONNECTIONS = []


def connect(stage):
    if stage != "production":
        return  # the other stages' databases take every connection they are given
    if len(_CONNECTIONS) >= POOL_SIZE:
        raise RuntimeError(f"connection pool to {{stage}} exhausted ({{POOL_SIZE}} in use)")
    _CONNECTIONS.append(stage)  # the bug: never returned to the pool
"""

WORKER = """
import os

RELEASE = {release!r}
# The queue each stage's worker reports to; "local" is what the code sees outside Lambda.
QUEUES = {queues!r}
# The downstream service each stage's health check reaches.
DEPENDENCIES = {dependencies!r}


def handler(event, context):
    stage = os.environ.get("STAGE", "local")
    if event.get("healthcheck"):
        if stage not in DEPENDENCIES:
            raise RuntimeError(f"no downstream dependency configured for {{stage}}")
        return {{"healthy": True}}
    return {{"processed": len(event["messages"]), "queue": QUEUES[stage]}}
"""

# The notifier, a Node.js function (CommonJS): the message a customer gets about an order.
NOTIFIER = """
// Release {release}: the confirmation a customer gets for an order.
const SENDER = "orders@example.com";
// The downstream service each stage's health check reaches.
const DEPENDENCIES = {dependencies};

exports.handler = async (event) => {{
  const stage = process.env.STAGE || "local";
  if (event.healthcheck) {{
    if (!(stage in DEPENDENCIES)) {{
      throw new Error(`no downstream dependency configured for ${{stage}}`);
    }}
    return {{ healthy: true }};
  }}
  if (!event.order) {{
    throw new TypeError("an order id is required");
  }}
  return {{ to: event.email, subject: `Order ${{event.order}} is confirmed`, from: SENDER }};
}};
"""

ALL_STAGES = {"local": "EUR", "staging": "EUR", "production": "EUR"}
ALL_QUEUES = {"local": "order-events", "staging": "order-events", "production": "order-events"}
ALL_DEPENDENCIES = {
    "local": "stub",
    "staging": "orders-db-staging",
    "production": "orders-db-production",
}

MANIFEST = {
    "cases": [
        {
            "name": "sums an order",
            "event": {"items": [{"price": 2.5, "quantity": 2}, {"price": 1, "quantity": 3}]},
            "expected": {"total": {"amount": 8.0, "currency": "EUR"}},
        },
        {"name": "refuses an empty order", "event": {"items": []}, "expected_error": "ValueError"},
        {
            "name": "is healthy",
            "event": {"healthcheck": True},
            "expected": {"healthy": True},
            "stages": ["smoke"],
        },
        {
            "name": "worker processes a batch",
            "function": "worker",
            "event": {"messages": [{"order": 1}, {"order": 2}]},
            "expected": {"processed": 2, "queue": "order-events"},
        },
        {
            "name": "worker is healthy",
            "function": "worker",
            "event": {"healthcheck": True},
            "expected": {"healthy": True},
            "stages": ["smoke"],
        },
        {
            "name": "notifier confirms an order",
            "function": "notifier",
            "event": {"order": 7, "email": "ada@example.com"},
            "expected": {
                "to": "ada@example.com",
                "subject": "Order 7 is confirmed",
                "from": "orders@example.com",
            },
        },
        {
            "name": "notifier refuses a message without an order",
            "function": "notifier",
            "event": {"email": "ada@example.com"},
            "expected_error": "TypeError",
        },
        {
            "name": "notifier is healthy",
            "function": "notifier",
            "event": {"healthcheck": True},
            "expected": {"healthy": True},
            "stages": ["smoke"],
        },
    ]
}


def source(kind: str, release: str) -> dict[str, str]:
    """The files of one release of `kind`."""
    if kind not in KINDS:
        raise ValueError(f"unknown release kind {kind!r}; expected one of {', '.join(KINDS)}")
    if kind in ABORTS:
        kind = "ok"
    currencies, queues = dict(ALL_STAGES), dict(ALL_QUEUES)
    dependencies, worker_dependencies = dict(ALL_DEPENDENCIES), dict(ALL_DEPENDENCIES)
    pricing = PRICING
    if kind == "staging-tests":
        del currencies["staging"]  # a config table that forgot staging: KeyError there only
    elif kind == "staging-deploy":
        del dependencies["staging"]  # the staging health check (traffic hook) fails
    elif kind == "production-deploy":
        del dependencies["production"]
    elif kind == "unit-tests":
        pricing = PRICING_WITHOUT_QUANTITY
    elif kind == "worker-staging-tests":
        del queues["staging"]  # the worker's table forgot staging: KeyError there only
    elif kind == "worker-production-deploy":
        # The worker fails on production's traffic: its alarm goes off during the canary.
        del worker_dependencies["production"]
    leaky = kind == "production-bake"
    app = APP.format(
        release=release,
        currencies=currencies,
        dependencies=dependencies,
        pool=LEAKY_POOL.format() if leaky else "",
        connect="connect(stage)\n    " if leaky else "",
    )
    worker = WORKER.format(release=release, queues=queues, dependencies=worker_dependencies)
    if kind == "validate":
        app = app.replace("def handler(event, context):", "def handler(event, context)")
    notifier = NOTIFIER.format(release=release, dependencies=json.dumps(ALL_DEPENDENCIES))
    return {
        "app.py": app.lstrip(),
        "worker.py": worker.lstrip(),
        "notifier.js": notifier.lstrip(),
        "pricing.py": pricing.lstrip(),
        "release-tests.json": json.dumps(MANIFEST, indent=2),
    }


def release_zip(kind: str, release: str) -> bytes:
    return zip_bytes((name, text.encode()) for name, text in source(kind, release).items())


class SampleApp:
    """The sample app as a release source: its kinds are real defects in its code."""

    @property
    def kinds(self) -> tuple[str, ...]:
        return KINDS

    def refusal(self, kind: str) -> str | None:
        return None if kind in KINDS else f"unknown release kind {kind!r}"

    def release_zip(self, kind: str, release: str) -> bytes:
        return release_zip(kind, release)

    def traffic_events(self, function: str) -> list[Any]:
        """Every function's users reach it through a health check."""
        return [{"healthcheck": True}]

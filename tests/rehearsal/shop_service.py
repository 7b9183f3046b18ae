"""A user's small service, as the build packages it: the app the rehearsal tests release."""

from __future__ import annotations

import json
from pathlib import Path

SERVICE = """
def handler(event, context):
    if event.get("ping"):
        return {"pong": True}
    return {"sum": sum(event["numbers"])}
"""
MANIFEST = {
    "cases": [
        {"name": "sums", "event": {"numbers": [1, 2, 3]}, "expected": {"sum": 6}},
        {"name": "needs numbers", "event": {}, "expected_error": "KeyError"},
        {
            "name": "answers a ping",
            "event": {"ping": True},
            "expected": {"pong": True},
            "stages": ["smoke"],
        },
    ]
}


def write_service(directory: Path) -> None:
    """The service's handler module (service.api.handler) and test manifest in `directory`."""
    (directory / "service").mkdir(parents=True, exist_ok=True)
    (directory / "service" / "__init__.py").write_text("")
    (directory / "service" / "api.py").write_text(SERVICE)
    (directory / "release-tests.json").write_text(json.dumps(MANIFEST))

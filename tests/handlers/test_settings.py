"""The handlers' APPLICATION variable: what environments elsewhere, their gates and the line add,
read back, and each malformed part named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from serverless_pipeline.handlers import settings
from serverless_pipeline.handlers.errors import ConfigurationError
from tests.handlers.conftest import application

ROLE = "arn:aws:iam::222222222222:role/app-production-deployment"
WINDOW = {
    "days": ["Mon", "Tue"],
    "start": "09:00",
    "end": "16:00",
    "zone": "Europe/Berlin",
    "calendar": "freeze",
    "wait": 3600,
}


def load(**production: Any) -> settings.Settings:
    document = json.loads(application(line={"parameter": "/app/release-line", "wait": 600}))
    document["environments"][1].update(production)
    return settings.load(
        {
            "APPLICATION": json.dumps(document),
            "ARTIFACT_BUCKET": "artifacts",
            "TEST_MANIFEST": "release-tests.json",
            "CANDIDATE_FUNCTION": "app-candidate",
        }
    )


def test_an_environment_elsewhere_its_gates_and_the_line_are_read() -> None:
    loaded = load(
        role=ROLE,
        region="eu-central-1",
        alarms={"own": ["errors"], "extra": ["checkout-latency"]},
        window=WINDOW,
    )
    production = loaded.environment("production")
    assert (production.role, production.region) == (ROLE, "eu-central-1")
    assert production.alarm_names == ["app-production-errors", "checkout-latency"]
    assert production.window == settings.Window(
        ("Mon", "Tue"), "09:00", "16:00", "Europe/Berlin", "freeze", 3600
    )
    assert (loaded.line_switch, loaded.line_wait) == ("/app/release-line", 600)
    # At home: the handler's own role, and the pipeline's own alarm pair.
    staging = loaded.environment("staging")
    assert (staging.role, staging.region, staging.window) == (None, None, None)
    assert staging.alarm_names == ["app-staging-errors", "app-staging-throttles"]


@pytest.mark.parametrize(
    ("production", "message"),
    [
        ({"role": "not-an-arn"}, "production role is 'not-an-arn'"),
        ({"role": ROLE, "region": "mars-1"}, "production region is 'mars-1'"),
        ({"region": "eu-central-1"}, "has a region but no role"),
        ({"alarms": {"own": "errors"}}, "production alarms must list own and extra"),
        ({"window": {**WINDOW, "days": ["Someday"]}}, "production window is"),
        ({"window": {"days": ["Mon"]}}, "production window is malformed"),
    ],
)
def test_a_malformed_part_is_named(production: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load(**production)


def test_a_malformed_line_is_named() -> None:
    document = json.loads(application(line={"parameter": "/app/release-line", "wait": 0}))
    with pytest.raises(ConfigurationError, match="line must name its parameter"):
        settings.load(
            {
                "APPLICATION": json.dumps(document),
                "ARTIFACT_BUCKET": "artifacts",
                "TEST_MANIFEST": "release-tests.json",
                "CANDIDATE_FUNCTION": "app-candidate",
            }
        )

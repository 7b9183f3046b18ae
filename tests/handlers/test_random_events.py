"""Random events, most of them one mistake away from a valid one: each handler succeeds or raises
one of its named errors, never anything else. A refusal changes nothing; a success changes only
what the event asked for (promote moves its environment to the release, rollback moves one back
to the version it served before)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from serverless_pipeline.handlers import (
    approval,
    promote,
    rollback,
    run_tests,
    traffic_hook,
    validate,
)
from serverless_pipeline.handlers.errors import PipelineError
from serverless_pipeline.handlers.lambda_versions import release_of
from tests.handlers.conftest import REGION, Account, app_files, build_zip

HANDLERS = {
    "validate": validate.handler,
    "run_tests": run_tests.handler,
    "promote": promote.handler,
    "rollback": rollback.handler,
    "approval": approval.handler,
    "traffic_hook": traffic_hook.handler,
}
ENVIRONMENTS = ("staging", "production")
JSON_LEAVES = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
# A field's valid value, or one of the ways it goes wrong.
BAD_FIELD = {
    "id": st.sampled_from(["r9", "", "../r2", "r" * 200]) | JSON,
    "bucket": st.sampled_from(["other-bucket", "UPPER"]) | JSON,
    "key": st.sampled_from(["releases/r9/app.zip", "/etc/passwd", "releases/../x"]) | JSON,
    "sha256": st.sampled_from(["0" * 64, "A" * 64, "xyz"]) | JSON,
}


def releases(valid: dict[str, str]) -> st.SearchStrategy[Any]:
    """The uploaded release, the same with one field wrong or missing, or any JSON at all."""
    broken = st.sampled_from(sorted(BAD_FIELD)).flatmap(
        lambda field: BAD_FIELD[field].map(lambda value: {**valid, field: value})
    )
    missing = st.sampled_from(sorted(valid)).map(
        lambda field: {k: v for k, v in valid.items() if k != field}
    )
    return st.one_of(st.just(valid), st.just(valid), broken, missing, JSON)


def mostly(*values: Any) -> st.SearchStrategy[Any]:
    """One of the values three times in four, any JSON otherwise."""
    good = st.sampled_from(values)
    return st.one_of(good, good, good, JSON)


# Each handler's own actions, so that most events are one mistake away from valid ones.
ACTIONS = {
    "promote": ("start", "status", "explode"),
    "approval": ("request", "approve", "reject", "explode"),
}


def events(valid: dict[str, str], name: str) -> st.SearchStrategy[Any]:
    fields = {
        "release": releases(valid),
        "execution": mostly("e1", "e1", "e2", "bad name"),
        "environment": mostly(*ENVIRONMENTS, "qa"),
        "action": mostly(*ACTIONS.get(name, ("start", "explode"))),
        "stage": mostly("candidate", "staging", "prod"),
        "token": mostly("token-1"),
        "release_id": mostly("r2", "r9"),
        "DeploymentId": mostly("d-1", ""),
        "LifecycleEventHookExecutionId": mostly("h-1"),
    }
    event = st.fixed_dictionaries(fields).flatmap(
        lambda full: st.sets(st.sampled_from(sorted(full)), max_size=2).map(
            lambda dropped: {k: v for k, v in full.items() if k not in dropped}
        )
    )
    return st.one_of(event, event, event, JSON)


@pytest.fixture
def topic(account: Account, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The notification topic, so that approval requests reach the code that publishes."""
    arn: str = boto3.client("sns", region_name=REGION).create_topic(Name="releases")["TopicArn"]
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", arn)
    yield arn


def state(account: Account) -> dict[str, tuple[str, int]]:
    """Each environment's live version and how many versions its function has."""
    return {
        environment: (
            account.live_version(environment),
            len(
                account.lam.list_versions_by_function(FunctionName=f"app-{environment}")["Versions"]
            ),
        )
        for environment in ENVIRONMENTS
    }


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(sorted(HANDLERS)), data=st.data())
def test_random_events_fail_only_with_named_errors_and_refusals_change_nothing(
    account: Account, topic: str, name: str, data: st.DataObject
) -> None:
    valid = account.upload("r2", build_zip(app_files()))
    event = data.draw(events(valid, name), label="event")
    before = state(account)
    succeeded = False
    with contextlib.suppress(PipelineError):  # named errors are allowed; anything else fails
        HANDLERS[name](event, None)
        succeeded = True
    after = state(account)
    # Shown by --hypothesis-show-statistics: how often each handler got past its checks.
    note(f"{name} {'succeeded' if succeeded else 'refused'}")
    if after != before:
        note(f"{name} changed an environment")
    if not succeeded:
        assert after == before, f"{name} refused {event!r} but changed {before} to {after}"
        return
    for environment in ENVIRONMENTS:
        if after[environment] == before[environment]:
            continue
        live = release_of(account.lam, f"app-{environment}", after[environment][0])
        moved_forward = name == "promote" and event.get("environment") == environment
        moved_back = name == "rollback" and after[environment][0] == "1"
        assert moved_forward or moved_back, f"{name} changed {environment} for {event!r}"
        assert live in {"r1", "r2"}

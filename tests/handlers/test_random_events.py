"""Random event shapes: each handler succeeds or raises one of its named errors, never anything
else, and no environment ends up serving something else."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
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
from tests.handlers.conftest import Account, app_files, build_zip

HANDLERS = {
    "validate": validate.handler,
    "run_tests": run_tests.handler,
    "promote": promote.handler,
    "rollback": rollback.handler,
    "approval": approval.handler,
    "traffic_hook": traffic_hook.handler,
}
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
RELEASE_IDS = st.sampled_from(["r2", "r9", "", "../r2", "r" * 200]) | st.text(max_size=12)
SHAS = st.sampled_from(["0" * 64, "A" * 64, "xyz"]) | st.text(max_size=70)


@st.composite
def releases(draw: st.DrawFn) -> Any:
    release_id = draw(RELEASE_IDS)
    candidate = {
        "id": release_id,
        "bucket": draw(st.sampled_from(["pipeline-artifacts", "other-bucket", "UPPER"])),
        "key": draw(
            st.sampled_from(
                [
                    f"releases/{release_id}/app.zip",
                    "releases/r2/app.zip",
                    "/etc/passwd",
                    "releases/../x",
                ]
            )
        ),
        "sha256": draw(SHAS),
    }
    keys = draw(st.sets(st.sampled_from(sorted(candidate))))
    shaped = {k: v for k, v in candidate.items() if k not in keys}
    return draw(st.one_of(st.just(shaped), JSON))


@st.composite
def events(draw: st.DrawFn) -> Any:
    event = {
        "release": draw(releases()),
        "execution": draw(st.sampled_from(["e1", "bad name", ""]) | st.text(max_size=10)),
        "environment": draw(st.sampled_from(["staging", "production", "qa"]) | JSON),
        "action": draw(st.sampled_from(["start", "status", "explode"]) | JSON),
        "stage": draw(st.sampled_from(["candidate", "staging", "prod"]) | JSON),
        "DeploymentId": draw(st.sampled_from(["d-1", ""]) | JSON),
        "LifecycleEventHookExecutionId": draw(st.sampled_from(["h-1"]) | JSON),
    }
    dropped = draw(st.sets(st.sampled_from(sorted(event))))
    shaped = {k: v for k, v in event.items() if k not in dropped}
    return draw(st.one_of(st.just(shaped), JSON))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(sorted(HANDLERS)), event=events())
def test_random_events_fail_only_with_named_errors(account: Account, name: str, event: Any) -> None:
    account.upload("r2", build_zip(app_files()))
    with contextlib.suppress(PipelineError):  # named errors are allowed; anything else fails
        HANDLERS[name](event, None)
    assert account.live_version("staging") == "1"
    assert account.live_version("production") == "1"
    versions = account.lam.list_versions_by_function(FunctionName="app-staging")["Versions"]
    assert len(versions) == 2

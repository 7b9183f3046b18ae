"""The checks of the pipeline's own settings (its handler functions and its state machine),
shared by their constructs, which check the props they are given, and by PipelineConfig, which
checks the whole configuration in one pass before any construct exists."""

from __future__ import annotations

from . import defaults
from .validation import Problems


def validate_handler_settings(
    problems: Problems,
    *,
    test_manifest: str,
    runtime: str,
    memory_mb: int,
    timeout_seconds: int,
    deployment_timeout_seconds: int,
    test_case_timeout_seconds: int,
    line_wait_minutes: int,
    log_retention_days: int,
    reserved_concurrency: int | None,
) -> None:
    """The handler functions' settings (HandlerFunctionsProps)."""
    problems.pattern(
        "test_manifest",
        test_manifest,
        r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,200}\.json",
        "a relative path to a .json file inside the release",
    )
    if isinstance(test_manifest, str) and ".." in test_manifest.split("/"):
        problems.add(f"test_manifest is {test_manifest!r}; '..' is not allowed")
    problems.one_of("runtime", runtime, defaults.SUPPORTED_RUNTIMES)
    problems.within("memory_mb", memory_mb, 128, 10240, "MB")
    problems.within("timeout_seconds", timeout_seconds, 1, 900, "seconds")
    problems.within("deployment_timeout_seconds", deployment_timeout_seconds, 60, 86400, "seconds")
    problems.within("test_case_timeout_seconds", test_case_timeout_seconds, 1, 300, "seconds")
    problems.within("line_wait_minutes", line_wait_minutes, 1, 4320, "minutes")
    problems.one_of("log_retention_days", log_retention_days, defaults.LOG_RETENTION_CHOICES)
    if reserved_concurrency is not None:
        problems.within("reserved_concurrency", reserved_concurrency, 1, 1000)


def validate_state_machine_settings(
    problems: Problems,
    *,
    poll_interval_seconds: int,
    log_retention_days: int,
    approval_timeout_seconds: int | None,
) -> None:
    """The state machine's settings (DeploymentStateMachineProps)."""
    problems.within("poll_interval_seconds", poll_interval_seconds, 5, 3600, "seconds")
    problems.one_of("log_retention_days", log_retention_days, defaults.LOG_RETENTION_CHOICES)
    if approval_timeout_seconds is not None:
        problems.within(
            "approval_timeout_seconds", approval_timeout_seconds, 60, 31536000, "seconds"
        )

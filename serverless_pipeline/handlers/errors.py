"""The handlers' one exception hierarchy.

Lambda reports a Python exception to Step Functions under its class name, and the state machine's
Catch and Retry clauses match on that name. The class names below are therefore public contract:
renaming one changes which Catch clause handles it.
"""


class PipelineError(Exception):
    """Base of every error a handler raises on purpose; anything else is a bug."""


class InvalidEvent(PipelineError):
    """The event does not have the shape the handler accepts; nothing was changed."""


class ConfigurationError(PipelineError):
    """The function's own environment (set by the constructs) is missing or malformed."""


class ArtifactNotFound(PipelineError):
    """The release artifact is not where the event says it is."""


class ChecksumMismatch(PipelineError):
    """The artifact's bytes are not the ones the build produced."""


class ArtifactTooLarge(PipelineError):
    """The artifact exceeds a Lambda deployment-package limit or this pipeline's limits."""


class ArtifactCorrupt(PipelineError):
    """The artifact is not a readable zip archive."""


class UnsafeArtifact(PipelineError):
    """The archive holds entries that could escape or abuse the extraction directory."""


class HandlerNotFound(PipelineError):
    """The configured handler module or function is not in the release."""


class WrongArchitecture(PipelineError):
    """A native file of the release is code for another processor than the functions that would
    load it run on: it would fail only when loaded, long after the deployment succeeded."""


class SourceDoesNotCompile(PipelineError):
    """A Python file of the release has a syntax error."""


class InvalidTestManifest(PipelineError):
    """The release's test manifest is missing, malformed or oversized."""


class TestCasesFailed(PipelineError):
    """At least one of the release's own test cases did not produce its expected result."""

    __test__ = False  # not a pytest test class


class EnvironmentNotOnRelease(PipelineError):
    """The environment does not serve the release that is being tested through it."""


class DeploymentInProgress(PipelineError):
    """Another deployment of the same deployment group is running; two releases never race."""


class DeploymentFailed(PipelineError):
    """CodeDeploy ended the deployment as Failed or Stopped (and rolled the alias back)."""


class DeploymentTimedOut(PipelineError):
    """The deployment did not finish before its deadline; it was stopped."""


class ApprovalMismatch(PipelineError):
    """An approval or rejection names another release than the one waiting for it."""


class RollbackFailed(PipelineError):
    """At least one environment could not be restored; the message names each one."""


class RecordConflict(PipelineError):
    """A record changed between its read and its conditional write: another writer came first."""


class ExecutionInProgress(PipelineError):
    """Another execution holds the pipeline (it runs, or its cleanup has not finished): this one
    refuses before it changes anything."""


class AlarmBlocked(PipelineError):
    """An alarm of the environment about to be deployed is in ALARM: it was not touched."""


class BakeAlarm(PipelineError):
    """An alarm of the environment went into ALARM while the release baked there."""


class OutsideDeploymentWindow(PipelineError):
    """The environment's deployment window did not open within the release's wait for it."""


class LineStopped(PipelineError):
    """The line stayed stopped for longer than a release waits for it."""


class VulnerableImage(PipelineError):
    """ECR's scan of the release's container image found CRITICAL vulnerabilities."""

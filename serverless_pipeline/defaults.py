"""The secure defaults, in one place. docs/reference/defaults.md lists the same values."""

from __future__ import annotations

from .handlers.runtimes import DEFAULT_RUNTIME

# Lambda: the newest Python runtime that Lambda and the provider bindings both accept; the
# handlers run on it (they accept python3.12 too), and so does an application function that
# names no runtime (handlers/runtimes.py lists the ones it may name).
LAMBDA_RUNTIME = DEFAULT_RUNTIME
SUPPORTED_RUNTIMES = ("python3.12", "python3.13")
# validate, run_tests, promote and the traffic hook hold a whole release in memory: up to Lambda's
# 250 MB, the most validate accepts, beside the largest source file it compiles and the runtime.
# tests/handlers/test_sizing.py measures that peak against this size.
HANDLER_MEMORY_MB = 1024
HANDLER_TIMEOUT_SECONDS = 300
# A state machine task waits for its function's timeout and this long for Lambda itself.
TASK_MARGIN_SECONDS = 60
# How long one test case of a candidate release may run (the candidate function's timeout).
TEST_CASE_TIMEOUT_SECONDS = 30
# None reserves nothing: Lambda refuses a reservation that would leave the account's unreserved
# pool under its minimum, which is every reservation on an account still at a low quota.
HANDLER_RESERVED_CONCURRENCY: int | None = None

# Logs are kept a year, encrypted with the pipeline's key.
LOG_RETENTION_DAYS = 365
# CloudWatch Logs accepts only these retention values.
LOG_RETENTION_CHOICES = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# KMS: rotation on; a deleted key can be recovered for the longest window KMS allows.
KMS_DELETION_WINDOW_DAYS = 30

# S3: old versions and abandoned uploads do not accumulate forever.
NONCURRENT_VERSION_EXPIRATION_DAYS = 90
ABORT_INCOMPLETE_UPLOAD_DAYS = 7
ACCESS_LOG_EXPIRATION_DAYS = 365

# Step Functions: how often the deployment wait loop asks CodeDeploy, and its deadline.
POLL_INTERVAL_SECONDS = 30
DEPLOYMENT_TIMEOUT_SECONDS = 3600
# Used only when approval is required without a timeout of its own.
APPROVAL_TIMEOUT_SECONDS = 86400

# CodeBuild
BUILD_IMAGE = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
# The same image on Graviton: dependencies with native code are built where they will run, so an
# application whose functions all run arm64 is built on it.
BUILD_IMAGE_ARM = "aws/codebuild/amazonlinux2-aarch64-standard:3.0"
# The Go that builds provided.al2023 functions, offered by both images; a go.mod that needs a
# newer one has the go command fetch that toolchain.
BUILD_GO_VERSION = "1.26"
BUILD_TIMEOUT_MINUTES = 30

# CodeDeploy predefined configurations for the Lambda compute platform.
LAMBDA_DEPLOYMENT_CONFIGS = (
    "CodeDeployDefault.LambdaAllAtOnce",
    "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    "CodeDeployDefault.LambdaCanary10Percent10Minutes",
    "CodeDeployDefault.LambdaCanary10Percent15Minutes",
    "CodeDeployDefault.LambdaCanary10Percent30Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
)
STAGING_DEPLOYMENT_CONFIG = "CodeDeployDefault.LambdaAllAtOnce"
PRODUCTION_DEPLOYMENT_CONFIG = "CodeDeployDefault.LambdaCanary10Percent5Minutes"

# Stop the line: how long a release waits at the first environment while the line is stopped.
LINE_WAIT_MINUTES = 60

# ECR, where some function is a container image: the tag the functions are created from (a
# one-time push, docs/guides/first-deploy.md), how long an untagged image stays, and how many
# release images are kept: a rollback needs the image of the release before, and Lambda cannot run a
# version whose image was deleted.
BOOTSTRAP_IMAGE_TAG = "bootstrap"
UNTAGGED_IMAGE_EXPIRATION_DAYS = 3
RELEASE_IMAGES_KEPT = 30

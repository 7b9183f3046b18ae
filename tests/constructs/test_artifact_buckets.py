from __future__ import annotations

from typing import Any

import pytest

from serverless_pipeline import (
    ArtifactBuckets,
    ArtifactBucketsProps,
    AwsContext,
    ConfigurationError,
    PipelineKey,
    PipelineKeyProps,
)
from serverless_pipeline.engine import TerraformStack, Testing
from tests.conftest import referenced_statements, resources, synth_stack


def buckets_stack(props: ArtifactBucketsProps) -> dict[str, Any]:
    stack = TerraformStack(Testing.app(), "buckets")
    context = AwsContext(stack, "context")
    key = PipelineKey(stack, "key", PipelineKeyProps(name_prefix="demo"), context)
    ArtifactBuckets(stack, "buckets", props, key=key, context=context)
    return synth_stack(stack)


def test_four_buckets_each_versioned_private_and_owner_enforced(example: dict[str, Any]) -> None:
    buckets = resources(example, "aws_s3_bucket")
    assert len(buckets) == 4
    assert sorted(b["bucket_prefix"] for b in buckets.values()) == [
        "orders-access-logs-",
        "orders-artifacts-",
        "orders-production-",
        "orders-staging-",
    ]
    assert all(b["force_destroy"] is False for b in buckets.values())
    versioning = resources(example, "aws_s3_bucket_versioning").values()
    assert [v["versioning_configuration"]["status"] for v in versioning] == ["Enabled"] * 4
    for block in resources(example, "aws_s3_bucket_public_access_block").values():
        for setting in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ):
            assert block[setting] is True
    ownership = resources(example, "aws_s3_bucket_ownership_controls").values()
    assert {o["rule"]["object_ownership"] for o in ownership} == {"BucketOwnerEnforced"}


def test_data_buckets_use_the_pipeline_key_and_logs_go_to_the_log_bucket(
    example: dict[str, Any],
) -> None:
    encryption = resources(example, "aws_s3_bucket_server_side_encryption_configuration")
    for logical_id, config in encryption.items():
        default = config["rule"][0]["apply_server_side_encryption_by_default"]
        if "access-logs" in logical_id:
            # S3 server access logging cannot deliver to an SSE-KMS bucket.
            assert default == {"sse_algorithm": "AES256"}
        else:
            assert default["sse_algorithm"] == "aws:kms"
            assert default["kms_master_key_id"].startswith("${aws_kms_key.")
            assert config["rule"][0]["bucket_key_enabled"] is True
    logging = resources(example, "aws_s3_bucket_logging")
    assert sorted(v["target_prefix"] for v in logging.values()) == [
        "artifacts/",
        "production/",
        "staging/",
    ]
    assert all("access-logs" in v["target_bucket"] for v in logging.values())


def test_every_bucket_policy_denies_plain_http_and_old_tls(example: dict[str, Any]) -> None:
    policies = resources(example, "aws_s3_bucket_policy")
    assert len(policies) == 4
    for policy in policies.values():
        statements = referenced_statements(example, policy["policy"])
        by_sid = {s["sid"]: s for s in statements}
        insecure = by_sid["DenyInsecureTransport"]
        assert insecure["effect"] == "Deny"
        assert insecure["actions"] == ["s3:*"]
        assert insecure["condition"] == [
            {"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}
        ]
        assert by_sid["DenyTlsBelow12"]["condition"][0]["values"] == ["1.2"]


def test_lifecycle_expires_old_versions_and_abandoned_uploads(example: dict[str, Any]) -> None:
    for logical_id, config in resources(example, "aws_s3_bucket_lifecycle_configuration").items():
        rule = config["rule"][0]
        assert rule["noncurrent_version_expiration"][0]["noncurrent_days"] == 90
        assert rule["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 7
        if "access-logs" in logical_id:
            assert config["rule"][1]["expiration"][0]["days"] == 365


def test_the_key_rotates_and_only_this_accounts_log_groups_may_use_it(
    example: dict[str, Any],
) -> None:
    (key,) = resources(example, "aws_kms_key").values()
    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] == 30
    statements = referenced_statements(example, key["policy"])
    logs = next(s for s in statements if s["sid"].startswith("CloudWatchLogs"))
    assert logs["condition"][0]["variable"] == "kms:EncryptionContext:aws:logs:arn"
    assert logs["principals"][0]["identifiers"][0].startswith("logs.${data.aws_region.")


def test_explicit_bucket_names_replace_the_generated_ones() -> None:
    document = buckets_stack(
        ArtifactBucketsProps(
            name_prefix="demo",
            artifact_bucket_name="demo-artifacts-123",
            staging_bucket_name="demo-staging-123",
            production_bucket_name="demo-production-123",
        )
    )
    names = sorted(
        b.get("bucket", b.get("bucket_prefix"))
        for b in resources(document, "aws_s3_bucket").values()
    )
    assert names == [
        "demo-access-logs-",
        "demo-artifacts-123",
        "demo-production-123",
        "demo-staging-123",
    ]


def test_invalid_props_are_all_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as raised:
        buckets_stack(
            ArtifactBucketsProps(
                name_prefix="Demo_Pipeline",
                artifact_bucket_name="Not_A_Bucket",
                staging_bucket_name="same-name",
                production_bucket_name="same-name",
                noncurrent_version_expiration_days=0,
            )
        )
    assert raised.value.problems == [
        "name_prefix is 'Demo_Pipeline'; expected 3-20 lowercase letters, digits or '-', "
        "starting with a letter",
        "artifact_bucket_name is 'Not_A_Bucket'; expected an S3 bucket name: 3-63 lowercase "
        "letters, digits or '-'",
        "bucket names must differ; got Not_A_Bucket, same-name, same-name",
        "noncurrent_version_expiration_days is 0; expected a whole number from 1 to 3650",
    ]
    assert str(raised.value).startswith("ArtifactBuckets: 4 invalid setting(s):")


def test_unresolved_tokens_are_not_judged() -> None:
    stack = TerraformStack(Testing.app(), "tokens")
    context = AwsContext(stack, "context")
    key = PipelineKey(stack, "key", PipelineKeyProps(name_prefix="demo"), context)
    name = f"demo-{context.account_id}"
    ArtifactBuckets(
        stack,
        "buckets",
        ArtifactBucketsProps(name_prefix="demo", artifact_bucket_name=name),
        key=key,
        context=context,
    )
    document = synth_stack(stack)
    assert any(
        "aws_caller_identity" in b.get("bucket", "")
        for b in resources(document, "aws_s3_bucket").values()
    )

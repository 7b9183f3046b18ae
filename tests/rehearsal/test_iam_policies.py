"""IAM's evaluation rules as the rehearsal applies them, the stack's references resolved to the
emulated account, and denials as the handlers see them through boto3 against moto."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from serverless_pipeline.emulator.accounts import CALLER
from serverless_pipeline.emulator.iam_enforcement import PermissionDenied, UnmappedCall, enforced
from serverless_pipeline.emulator.iam_policies import (
    PolicyError,
    RolePolicies,
    StackPolicies,
    StackValues,
    compile_statement,
    matched_references,
)

ROLE = "arn:aws:iam::123456789012:role/tester"
SECURE = {"aws:securetransport": "true"}


def role(*statements: dict[str, Any]) -> RolePolicies:
    return RolePolicies(ROLE, tuple(compile_statement("test", s) for s in statements))


def allowed(policies: RolePolicies, action: str, resource: str, **context: str) -> bool:
    return policies.decide(action, resource, {**SECURE, **context}).allowed


def test_explicit_deny_beats_allow_and_nothing_allows_by_default() -> None:
    policies = role(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/secret/*"},
    )
    assert allowed(policies, "s3:PutObject", "arn:aws:s3:::b/open/x")
    denied = policies.decide("s3:PutObject", "arn:aws:s3:::b/secret/x", SECURE)
    assert not denied.allowed and denied.explicit_deny
    implicit = policies.decide("sns:Publish", "arn:aws:sns:eu-west-1:1:t", SECURE)
    assert not implicit.allowed and not implicit.explicit_deny


def test_actions_match_case_insensitively_with_wildcards_and_not_action() -> None:
    policies = role(
        {"Effect": "Allow", "Action": ["lambda:Get*"], "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:sns:*:*:t"},
    )
    assert allowed(policies, "Lambda:GETALIAS", "x")
    assert not allowed(policies, "lambda:UpdateAlias", "x")
    assert allowed(policies, "sns:Publish", "arn:aws:sns:eu-west-1:1:t")
    assert not allowed(policies, "iam:PassRole", "arn:aws:sns:eu-west-1:1:t")


def test_resource_wildcards_stay_in_their_arn_segment() -> None:
    function = "arn:aws:lambda:eu-west-1:123456789012:function:api"
    policies = role(
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": f"{function}:*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/releases/*"},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:*:1:t"},
    )
    assert allowed(policies, "lambda:InvokeFunction", f"{function}:live")
    assert not allowed(policies, "lambda:InvokeFunction", function)
    assert allowed(policies, "s3:GetObject", "arn:aws:s3:::b/releases/r1/app.zip")
    assert not allowed(policies, "s3:GetObject", "arn:aws:s3:::b/other/releases/x")
    assert allowed(policies, "sns:Publish", "arn:aws:sns:eu-west-1:1:t")
    # A region wildcard does not reach across the segment into the account's.
    assert not allowed(policies, "sns:Publish", "arn:aws:sns:eu-west-1:2:1:t")


def test_not_resource() -> None:
    policies = role(
        {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/*"}
    )
    assert allowed(policies, "s3:GetObject", "arn:aws:s3:::c/x")
    assert not allowed(policies, "s3:GetObject", "arn:aws:s3:::b/x")


def test_the_condition_operators_the_stack_uses() -> None:
    key = "arn:aws:kms:eu-west-1:123456789012:key/k"
    policies = role(
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
            "Condition": {"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}},
        },
        {
            "Effect": "Allow",
            "Action": "kms:GenerateDataKey",
            "Resource": key,
            "Condition": {
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:*:*"}
            },
        },
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Allow",
            "Action": "kms:Encrypt",
            "Resource": key,
            "Condition": {"StringEqualsIfExists": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
        },
    )
    assert allowed(
        policies, "kms:Decrypt", key, **{"kms:viaservice": "sns.eu-west-1.amazonaws.com"}
    )
    assert not allowed(
        policies, "kms:Decrypt", key, **{"kms:viaservice": "s3.eu-west-1.amazonaws.com"}
    )
    # A key missing from the request fails a condition on it.
    assert not allowed(policies, "kms:Decrypt", key)
    logs = "arn:aws:logs:eu-west-1:123456789012:log-group:x"
    assert allowed(
        policies, "kms:GenerateDataKey", key, **{"kms:encryptioncontext:aws:logs:arn": logs}
    )
    insecure = policies.decide("kms:Decrypt", key, {"aws:securetransport": "false"})
    assert insecure.explicit_deny
    assert allowed(policies, "kms:Encrypt", key)  # ...IfExists: a missing key passes
    assert not allowed(policies, "kms:Encrypt", key, **{"kms:viaservice": "sns.x"})


def test_what_the_rehearsal_cannot_evaluate_stops_it() -> None:
    with pytest.raises(PolicyError, match="ForAnyValue"):
        compile_statement(
            "p",
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}},
            },
        )
    with pytest.raises(PolicyError, match="policy variables"):
        compile_statement(
            "p", {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::${aws:username}"}
        )


STACK: dict[str, Any] = {
    "provider": {
        "aws": [
            {"region": "eu-west-1"},
            {"alias": "prod", "region": "eu-central-1", "allowed_account_ids": ["222222222222"]},
        ]
    },
    "data": {
        "aws_partition": {"p": {}},
        "aws_region": {"r": {}, "prod_r": {"provider": "aws.prod"}},
        "aws_caller_identity": {"i": {"provider": "aws.prod"}},
        "aws_iam_policy_document": {
            "inline": {
                "statement": [
                    {
                        "sid": "Read",
                        "effect": "Allow",
                        "actions": ["s3:GetObject"],
                        "resources": ["${aws_s3_bucket.releases.arn}/releases/*"],
                    },
                    {
                        "sid": "Publish",
                        "effect": "Allow",
                        "actions": ["sns:Publish"],
                        "resources": ["${aws_sns_topic.topic.arn}"],
                    },
                ]
            }
        },
    },
    "resource": {
        "aws_s3_bucket": {"releases": {"bucket_prefix": "shop-releases-"}},
        "aws_sns_topic": {"topic": {"name": "shop-releases", "provider": "aws.prod"}},
        "aws_iam_role": {"role": {"name": "tester"}},
        "aws_iam_role_policy": {
            "inline": {
                "role": "${aws_iam_role.role.id}",
                "policy": "${data.aws_iam_policy_document.inline.json}",
            }
        },
        "aws_iam_policy": {
            "managed": {
                "name": "tester-1",
                "policy": json.dumps(
                    {
                        "Statement": [
                            {
                                "Sid": "Invoke",
                                "Effect": "Allow",
                                "Action": "lambda:InvokeFunction",
                                "Resource": "arn:${data.aws_partition.p.partition}:lambda:"
                                "${data.aws_region.prod_r.region}:"
                                "${data.aws_caller_identity.i.account_id}:function:api",
                            }
                        ]
                    }
                ),
            }
        },
        "aws_iam_role_policy_attachment": {
            "attach": {
                "role": "${aws_iam_role.role.name}",
                "policy_arn": "${aws_iam_policy.managed.arn}",
            }
        },
    },
}


def test_references_resolve_to_the_emulated_account() -> None:
    """Buckets take the names the handlers' environments give them; everything else is built
    from names, each in its provider's account and region."""
    known = matched_references(
        {"BUCKETS": json.dumps({"releases": "${aws_s3_bucket.releases.bucket}"})},
        {"BUCKETS": json.dumps({"releases": "shop-releases-rehearsal"})},
    )
    assert known == {"aws_s3_bucket.releases.bucket": "shop-releases-rehearsal"}
    values = StackValues(STACK, "123456789012", known)
    statements = values.role_statements(ROLE)
    assert [(policy, s["Sid"]) for policy, s in statements] == [
        ("inline", "Read"),
        ("inline", "Publish"),
        ("managed", "Invoke"),
    ]
    resources = [s["Resource"] for _, s in statements]
    assert resources == [
        ["arn:aws:s3:::shop-releases-rehearsal/releases/*"],
        ["arn:aws:sns:eu-central-1:222222222222:shop-releases"],
        "arn:aws:lambda:eu-central-1:222222222222:function:api",
    ]


def test_an_unresolvable_reference_stops_the_rehearsal() -> None:
    values = StackValues(STACK, "123456789012", {})  # the bucket's name is not known
    with pytest.raises(PolicyError, match="aws_s3_bucket.releases has no bucket"):
        values.role_statements(ROLE)


def code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@mock_aws(config={"lambda": {"use_docker": False}})
def test_a_refused_call_gets_what_aws_answers_and_is_reported() -> None:
    """Through boto3 against moto: the role's allowed call goes through, a refused one gets the
    service's own error code and status, and the refusal names role, action and resource."""
    lam = boto3.client("lambda", region_name="eu-west-1")
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(
        Bucket="rehearsal-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_object(Bucket="rehearsal-bucket", Key="releases/r1", Body=b"1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    boto3.client("iam").create_role(RoleName="tester", AssumeRolePolicyDocument=json.dumps(trust))
    lam.create_function(
        FunctionName="api",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code()},
    )
    policies = StackPolicies(
        {
            ROLE: role(
                {
                    "Effect": "Allow",
                    "Action": "lambda:GetFunctionConfiguration",
                    "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:api",
                },
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::rehearsal-bucket/*",
                },
            )
        },
        {},
        None,
    )
    with enforced(policies) as enforcement:
        # The handlers make their clients while the rehearsal enforces the policies.
        lam = boto3.client("lambda", region_name="eu-west-1")
        s3 = boto3.client("s3", region_name="eu-west-1")
        CALLER.role = ROLE
        try:
            lam.get_function_configuration(FunctionName="api")
            assert (
                s3.get_object(Bucket="rehearsal-bucket", Key="releases/r1")["Body"].read() == b"1"
            )
            with pytest.raises(ClientError) as lambda_error:
                lam.update_alias(FunctionName="api", Name="live", FunctionVersion="1")
            # A missing key without s3:ListBucket: AccessDenied, not NoSuchKey.
            with pytest.raises(ClientError) as s3_error:
                s3.get_object(Bucket="rehearsal-bucket", Key="releases/r2")
            with pytest.raises(UnmappedCall):
                lam.list_functions()
        finally:
            CALLER.role = None
        # Outside a function, a call is the emulator's own, not the role's.
        s3.list_objects_v2(Bucket="rehearsal-bucket")
    assert lambda_error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert lambda_error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3_error.value.response["Error"]["Code"] == "AccessDenied"
    assert s3_error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert [(d.action, d.resource) for d in enforcement.denials] == [
        ("lambda:UpdateAlias", "arn:aws:lambda:eu-west-1:123456789012:function:api"),
        ("s3:ListBucket", "arn:aws:s3:::rehearsal-bucket"),
    ]
    with pytest.raises(UnmappedCall, match="lambda:ListFunctions"):
        enforcement.check()
    enforcement.unmapped.clear()
    with pytest.raises(PermissionDenied, match="role arn:aws:iam::123456789012:role/tester"):
        enforcement.check()

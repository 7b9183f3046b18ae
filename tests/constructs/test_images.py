"""Functions packaged as container images: the pipeline's ECR repository, the functions and the
image candidate that start from its bootstrap image, the grants around it, and the refusals."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from serverless_pipeline import (
    ApplicationProps,
    ConfigurationError,
    FunctionSettings,
    defaults,
)
from serverless_pipeline.constructs.image_repository import PULL_ACTIONS
from serverless_pipeline.example import multi_account_config
from tests.conftest import (
    one,
    policy_statements,
    referenced_statements,
    resources,
    statement,
    synth_config,
)
from tests.single_function_config import single_function_config

REPOSITORY = "${aws_ecr_repository.pipeline_images_repository_"


def image_config(**changes: Any) -> Any:
    """The shop: an image function beside a zip one, staging and production."""
    base = single_function_config()
    return dataclasses.replace(
        base,
        application=ApplicationProps(
            name="shop",
            functions={
                "api": FunctionSettings(handler="app.handler"),
                "render": FunctionSettings(
                    handler="render.handler", package_type="Image", architecture="arm64"
                ),
            },
        ),
        **changes,
    )


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return synth_config(image_config())


def functions(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["function_name"]: f for f in resources(stack, "aws_lambda_function").values()}


def test_the_repository_is_encrypted_immutable_and_scanned(stack: dict[str, Any]) -> None:
    repository = one(stack, "aws_ecr_repository", "images")
    assert repository["name"].endswith("-images")
    assert repository["image_tag_mutability"] == "IMMUTABLE"
    assert repository["image_scanning_configuration"] == {"scan_on_push": True}
    (encryption,) = repository["encryption_configuration"]
    assert encryption["encryption_type"] == "KMS"
    assert encryption["kms_key"].startswith("${aws_kms_key.pipeline_key_")


def test_the_lifecycle_keeps_bootstrap_and_the_last_releases(stack: dict[str, Any]) -> None:
    rules = json.loads(one(stack, "aws_ecr_lifecycle_policy", "images")["policy"])["rules"]
    assert [r["rulePriority"] for r in rules] == [1, 2, 3]
    bootstrap, untagged, kept = (r["selection"] for r in rules)
    # An image a rule of higher priority matches is not expired by a later one, and a rule of
    # tagStatus "any" must come last (ECR user guide, "Lifecycle policy properties").
    assert bootstrap["tagPrefixList"] == [defaults.BOOTSTRAP_IMAGE_TAG]
    assert bootstrap["countNumber"] == 1
    assert untagged["tagStatus"] == "untagged"
    assert untagged["countNumber"] == defaults.UNTAGGED_IMAGE_EXPIRATION_DAYS
    assert kept == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": defaults.RELEASE_IMAGES_KEPT,
    }


def test_lambda_pulls_only_for_the_image_functions(stack: dict[str, Any]) -> None:
    # Lambda's "Amazon ECR permissions" ("Create a Lambda function using a container image"):
    # the repository's policy lets the Lambda service principal BatchGetImage and
    # GetDownloadUrlForLayer, scoped by aws:sourceArn to the functions.
    policy = one(stack, "aws_ecr_repository_policy", "images")
    (pull,) = referenced_statements(stack, policy["policy"])
    assert pull["principals"] == [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}]
    assert sorted(pull["actions"]) == sorted(PULL_ACTIONS)
    (condition,) = pull["condition"]
    assert condition["variable"] == "aws:sourceArn"
    names = [arn.rsplit(":function:", 1)[1] for arn in condition["values"]]
    assert names == [
        "shop-render-staging",
        "shop-render-production",
        "orders-candidate-image",
        "shop-render-staging:*",
        "shop-render-production:*",
        "orders-candidate-image:*",
    ]


def test_the_key_lets_ecr_create_its_grant(stack: dict[str, Any]) -> None:
    key = one(stack, "aws_kms_key", "pipeline_key")
    statements = referenced_statements(stack, key["policy"])
    ecr = statement(statements, "EcrEncryptsThisAccountsImageRepository")
    assert ecr["actions"] == ["kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"]
    conditions = {c["variable"]: c["values"] for c in ecr["condition"]}
    assert conditions["kms:ViaService"][0].startswith("ecr.")
    assert conditions["kms:GrantIsForAWSResource"] == ["true"]


def test_a_zip_only_stack_has_no_repository_and_no_ecr_grant(single: dict[str, Any]) -> None:
    assert resources(single, "aws_ecr_repository") == {}
    key = one(single, "aws_kms_key", "pipeline_key")
    sids = [s["sid"] for s in referenced_statements(single, key["policy"])]
    assert "EcrEncryptsThisAccountsImageRepository" not in sids
    assert not any(f.endswith("-candidate-image") for f in functions(single))


def test_image_functions_start_from_the_bootstrap_image(stack: dict[str, Any]) -> None:
    found = functions(stack)
    for environment in ("staging", "production"):
        image = found[f"shop-render-{environment}"]
        assert image["package_type"] == "Image"
        # By reference to the repository: no account is written into the stack.
        assert image["image_uri"] == f"{REPOSITORY}{one_id(stack)}.repository_url}}:bootstrap"
        assert image["image_config"] == {"command": ["render.handler"]}
        assert image["architectures"] == ["arm64"]
        assert "runtime" not in image and "handler" not in image and "filename" not in image
        # The pipeline owns the code afterwards, as it owns the zip functions'.
        assert image["lifecycle"] == {"ignore_changes": ["image_uri"]}
        zipped = found[f"shop-api-{environment}"]
        assert zipped["runtime"] == defaults.LAMBDA_RUNTIME and "package_type" not in zipped


def test_the_image_candidate_is_sandboxed_like_the_zip_one(stack: dict[str, Any]) -> None:
    candidate = functions(stack)["orders-candidate-image"]
    assert candidate["package_type"] == "Image"
    assert candidate["image_uri"].endswith(".repository_url}:bootstrap")
    assert candidate["tracing_config"] == {"mode": "PassThrough"}
    assert "kms_key_arn" not in candidate
    assert candidate["lifecycle"] == {"ignore_changes": ["image_uri", "environment"]}
    sids = [s["sid"] for s in policy_statements(stack, "candidate-image")]
    assert sids == ["WriteOwnLogs"]


def test_the_handlers_are_told_the_repository_and_the_image_candidate(
    stack: dict[str, Any],
) -> None:
    variables = functions(stack)["orders-validate"]["environment"]["variables"]
    assert variables["IMAGE_CANDIDATE_FUNCTION"] == "orders-candidate-image"
    assert variables["IMAGE_REPOSITORY"].endswith(".repository_url}")
    application = json.loads(variables["APPLICATION"])
    # Only the image function carries a package type (Lambda's 4 KB for variables).
    assert [f.get("package_type") for f in application["functions"]] == [None, "Image"]


def test_each_role_gets_exactly_its_ecr_actions_on_the_repository(stack: dict[str, Any]) -> None:
    def granted(role: str, sid: str) -> dict[str, Any]:
        found = statement(policy_statements(stack, role), sid)
        return {"actions": found["actions"], "resources": found["resources"]}

    repository = [f"{REPOSITORY}{one_id(stack)}.arn}}"]
    pull = {"actions": sorted(PULL_ACTIONS), "resources": repository}
    # UpdateFunctionCode with an ImageUri needs the caller to be allowed to pull it.
    assert granted("handlers_promote", "PullReleaseImages") == pull
    assert granted("handlers_run-tests", "PullReleaseImages") == pull
    assert granted("handlers_validate", "InspectReleaseImages") == {
        "actions": ["ecr:DescribeImageScanFindings", "ecr:DescribeImages"],
        "resources": repository,
    }
    push = granted("pipeline_build-role", "PushReleaseImages")
    assert push["resources"] == repository
    assert "ecr:PutImage" in push["actions"] and "ecr:BatchGetImage" not in push["actions"]
    # GetAuthorizationToken has no resource type: IAM accepts only "*" for it (Service
    # Authorization Reference, Amazon ECR).
    assert granted("pipeline_build-role", "LogInToTheRegistry") == {
        "actions": ["ecr:GetAuthorizationToken"],
        "resources": ["*"],
    }
    candidates = statement(policy_statements(stack, "handlers_run-tests"), "RunCandidateReleases")
    assert [r.rsplit(":function:", 1)[1] for r in candidates["resources"]] == [
        "orders-candidate",
        "orders-candidate:*",
        "orders-candidate-image",
        "orders-candidate-image:*",
    ]
    for role in ("handlers_rollback", "handlers_approval"):
        assert not any("ecr:" in str(s["actions"]) for s in policy_statements(stack, role))


def one_id(stack: dict[str, Any]) -> str:
    (logical,) = resources(stack, "aws_ecr_repository")
    return logical.removeprefix("pipeline_images_repository_")


def test_the_build_is_privileged_and_pushes_to_the_repository(stack: dict[str, Any]) -> None:
    project = one(stack, "aws_codebuild_project", "build")
    environment = project["environment"]
    assert environment["privileged_mode"] is True
    # Built where the image runs: the image function is arm64.
    assert environment["type"] == "ARM_CONTAINER"
    variables = {v["name"]: v["value"] for v in environment["environment_variable"]}
    assert variables["IMAGE_REPOSITORY"].endswith(".repository_url}")
    commands = json.loads(project["source"]["buildspec"])["phases"]["build"]["commands"]
    assert any(c.startswith("docker push") for c in commands)


def test_environments_in_another_account_of_the_region_may_pull() -> None:
    config = multi_account_config()
    staging, production = config.environments or ()
    config = dataclasses.replace(
        config,
        region="eu-west-1",
        environments=(staging, dataclasses.replace(production, region=None)),
        application=dataclasses.replace(
            config.application,
            functions={
                **(config.application.functions or {}),
                # arm64, as the notifier's Node.js: the build runs where both run.
                "render": FunctionSettings(
                    handler="render.handler", package_type="Image", architecture="arm64"
                ),
            },
        ),
    )
    stack = synth_config(config)
    policy = one(stack, "aws_ecr_repository_policy", "images")
    statements = referenced_statements(stack, policy["policy"])
    sids = [s["sid"] for s in statements]
    assert sids == [
        "LambdaPullsForTheApplicationsImageFunctions",
        "Account111111111111CreatesAndDeploysImageFunctions",
        "Account222222222222CreatesAndDeploysImageFunctions",
    ]
    staging_pull = statements[1]
    (principal,) = staging_pull["principals"]
    assert principal["type"] == "AWS"
    assert principal["identifiers"][0].endswith(":iam::111111111111:root")
    (condition,) = staging_pull["condition"]
    # Only the roles that create (Terraform's) and update (the deployment role) its functions.
    assert condition["variable"] == "aws:PrincipalArn"
    assert [v.rsplit(":", 2)[1:] for v in condition["values"]] == [
        ["111111111111", "role/orders-staging-deployment"],
        ["111111111111", "role/terraform"],
    ]
    sources = statements[0]["condition"][0]["values"]
    assert any(":111111111111:function:orders-render-staging" in s for s in sources)
    # The deployment role there updates the function's code: it may pull too.
    role = one(stack, "aws_iam_role_policy", "deployment-role-staging")
    pulls = statement(referenced_statements(stack, role["policy"]), "PullReleaseImages")
    assert pulls["actions"] == sorted(PULL_ACTIONS)


def test_image_function_refusals_name_the_value_and_the_fix() -> None:
    config = image_config()
    functions_ = {
        "api": FunctionSettings(handler="app.handler"),
        "render": FunctionSettings(
            handler="render.handler",
            package_type="Image",
            runtime="python3.13",
            layers=("arn:aws:lambda:eu-west-1:123456789012:layer:shared:1",),
        ),
        "thumbs": FunctionSettings(
            handler="thumbs.handler", package_type="Image", architecture="arm64"
        ),
        "odd": FunctionSettings(handler="odd.handler", package_type="Docker"),
    }
    bad = dataclasses.replace(
        config, application=ApplicationProps(name="shop", functions=functions_)
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(bad)
    message = str(raised.value)
    assert "functions['render'].runtime is 'python3.13' on an image function; omit it" in message
    assert (
        "functions['render'].layers is ['arn:aws:lambda:eu-west-1:123456789012:layer:shared:1'] "
        "on an image function; Lambda takes no layers on images" in message
    )
    assert "the image functions run render x86_64, thumbs arm64" in message
    assert "functions['odd'].package_type is 'Docker'" in message


def test_an_image_function_in_another_region_is_refused() -> None:
    config = multi_account_config()  # production lives in eu-central-1
    config = dataclasses.replace(
        config,
        application=dataclasses.replace(
            config.application,
            functions={"render": FunctionSettings(handler="render.handler", package_type="Image")},
        ),
    )
    with pytest.raises(ConfigurationError) as raised:
        synth_config(config)
    # "The Amazon ECR repository must be in the same AWS Region as the Lambda function" (Lambda
    # developer guide, "Create a Lambda function using a container image").
    assert (
        "environments['production'].region is eu-central-1, but the image functions are pulled "
        "from the pipeline's repository in eu-west-1" in str(raised.value)
    )
    assert "replicating the repository is not offered" in str(raised.value)

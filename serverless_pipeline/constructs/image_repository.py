"""ImageRepository: the ECR repository of the release images, for the functions packaged as
container images (FunctionSettings.package_type="Image").

The build pushes one image per release, tagged with the release id; the handlers deploy and test
it only by digest. Terraform creates the image functions in the same apply as the repository,
and Lambda creates an image function only from an image that exists, so they start from the
`bootstrap` tag, pushed once before the first deploy (docs/guides/first-deploy.md); from then on the
pipeline owns their code, as it owns the zip functions' code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from constructs import Construct

from .. import defaults, naming
from ..engine import aws
from ..layout import ApplicationLayout, HandlersLayout
from .aws_context import AwsContext
from .encryption import PipelineKey
from .iam import Condition, Statement, resource_statement
from .placement import EnvironmentPlacement

# What pulling an image takes: Lambda's "Amazon ECR permissions" (Lambda developer guide,
# "Create a Lambda function using a container image") and what UpdateFunctionCode's caller needs
# with an ImageUri.
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# What `docker push` takes (ECR user guide, "Pushing an image": required IAM permissions), and
# DescribeImages, with which the build reads the digest it pushed.
PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)


class ImageRepository(Construct):
    """A private repository encrypted with the pipeline's key, with immutable tags (a release
    id names one image forever), scan on push, a lifecycle that keeps the bootstrap image and
    the last RELEASE_IMAGES_KEPT releases, and a policy that lets Lambda pull only for the
    application's functions and the image candidate, and another account of the region only
    through the roles that create and deploy its functions."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name_prefix: str,
        application: ApplicationLayout,
        handlers: HandlersLayout,
        key: PipelineKey,
        context: AwsContext,
        placements: Mapping[str, EnvironmentPlacement],
    ) -> None:
        super().__init__(scope, id)
        self.repository = aws.ecr_repository.EcrRepository(
            self,
            "repository",
            name=naming.image_repository(name_prefix),
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr_repository.EcrRepositoryImageScanningConfiguration(
                scan_on_push=True
            ),
            encryption_configuration=[
                aws.ecr_repository.EcrRepositoryEncryptionConfiguration(
                    encryption_type="KMS", kms_key=key.arn
                )
            ],
        )
        aws.ecr_lifecycle_policy.EcrLifecyclePolicy(
            self,
            "lifecycle",
            repository=self.repository.name,
            policy=json.dumps(lifecycle_policy(), sort_keys=True),
        )
        # Function ARNs of the image functions (and the image candidate), in each account.
        sources: list[str] = []
        accounts: dict[str, list[str]] = {}
        for environment in application.environments:
            placed = placements.get(environment.name)
            where = placed.context if placed else context
            names = [f.function_name for f in environment.functions if f.package_type == "Image"]
            sources += [where.arn("lambda", f"function:{name}") for name in names]
            place = environment.placement
            if place and place.account_id and names:
                callers = accounts.setdefault(place.account_id, [])
                callers += [
                    place.deployment_role_arn(context.account_id, context.partition),
                    *([place.terraform_role_arn] if place.terraform_role_arn else []),
                ]
        if handlers.image_candidate_function:
            sources.append(context.arn("lambda", f"function:{handlers.image_candidate_function}"))
        statements = [
            resource_statement(
                Statement(
                    "LambdaPullsForTheApplicationsImageFunctions",
                    PULL_ACTIONS,
                    [],
                    [
                        Condition(
                            "StringLike", "aws:sourceArn", [*sources, *(f"{a}:*" for a in sources)]
                        )
                    ],
                ),
                principal_type="Service",
                principals=["lambda.amazonaws.com"],
            )
        ]
        # Another account's function is created (by Terraform's role there) and updated (by the
        # pipeline's deployment role there) by a caller of that account, who needs the pull
        # actions from the repository's policy too (Lambda developer guide, "Amazon ECR
        # permissions": cross-account).
        for account, callers in sorted(accounts.items()):
            statements.append(
                resource_statement(
                    Statement(
                        f"Account{account}CreatesAndDeploysImageFunctions",
                        PULL_ACTIONS,
                        [],
                        [Condition("ArnLike", "aws:PrincipalArn", list(dict.fromkeys(callers)))],
                    ),
                    principal_type="AWS",
                    principals=[f"arn:{context.partition}:iam::{account}:root"],
                )
            )
        document = aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument(
            self, "policy-document", statement=statements
        )
        aws.ecr_repository_policy.EcrRepositoryPolicy(
            self, "policy", repository=self.repository.name, policy=document.json
        )

    @property
    def arn(self) -> str:
        return self.repository.arn

    @property
    def url(self) -> str:
        """<account>.dkr.ecr.<region>.amazonaws.com/<name>, by reference."""
        return self.repository.repository_url

    @property
    def bootstrap_image(self) -> str:
        """The image every image function is created from (docs/guides/first-deploy.md)."""
        return f"{self.url}:{defaults.BOOTSTRAP_IMAGE_TAG}"

    def grant_pull(self) -> Statement:
        """Give a function the release's image: UpdateFunctionCode with an ImageUri needs the
        caller to be allowed to pull it (Lambda API reference, UpdateFunctionCode)."""
        return Statement("PullReleaseImages", PULL_ACTIONS, [self.arn])

    def grant_push(self) -> list[Statement]:
        """Push release images and read their digests. GetAuthorizationToken (docker login) has
        no resource type: "you must specify all resources ("*")" (Service Authorization
        Reference, Amazon ECR's actions table)."""
        return [
            Statement("PushReleaseImages", PUSH_ACTIONS, [self.arn]),
            Statement("LogInToTheRegistry", ["ecr:GetAuthorizationToken"], ["*"]),
        ]

    def grant_inspect(self) -> Statement:
        """What validate reads of a release's image: that it exists, and its scan's findings."""
        return Statement(
            "InspectReleaseImages",
            ["ecr:DescribeImageScanFindings", "ecr:DescribeImages"],
            [self.arn],
        )


def lifecycle_policy() -> dict[str, object]:
    """Keep the bootstrap image (the functions a later apply adds start from it), expire
    untagged images after UNTAGGED_IMAGE_EXPIRATION_DAYS, keep the last RELEASE_IMAGES_KEPT
    release images. ECR evaluates rules by priority, and an image a rule matches is not expired
    by a rule of lower priority; the "any" rule must come last (ECR user guide, "Lifecycle
    policy properties")."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Keep the bootstrap image new functions start from",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [defaults.BOOTSTRAP_IMAGE_TAG],
                    "countType": "imageCountMoreThan",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "Expire untagged images",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": defaults.UNTAGGED_IMAGE_EXPIRATION_DAYS,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 3,
                "description": f"Keep the last {defaults.RELEASE_IMAGES_KEPT} release images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": defaults.RELEASE_IMAGES_KEPT,
                },
                "action": {"type": "expire"},
            },
        ]
    }

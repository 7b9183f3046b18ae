"""Environments that live in their own AWS account or region.

Terraform reaches each (account, region) through one AWS provider of its own, which assumes the
role the user names there; every resource of such an environment is created through it, so one
`cdktf synth` still gives one stack that Terraform Cloud or `cdktf deploy` applies as is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from constructs import Construct, IConstruct

from ..engine import TerraformDataSource, TerraformResource, aws
from ..layout import ApplicationLayout, Placement
from ..validation import partition_of
from .aws_context import AwsContext
from .encryption import PipelineKey, PipelineKeyProps


class EnvironmentPlacement(Construct):
    """One environment's home elsewhere: the provider that creates its resources, the account
    and region its ARNs name, and the customer managed key that encrypts its data there (a KMS
    key serves only its own region, and nothing of the pipeline's key needs to cross)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: str,
        placement: Placement,
        provider: aws.provider.AwsProvider,
        name_prefix: str,
    ) -> None:
        super().__init__(scope, id)
        self.environment = environment
        self.placement = placement
        self.provider = provider
        region = placement.region
        self.context = AwsContext(
            self,
            "context",
            account_id=placement.account_id,
            region=region,
            partition=partition_of(region) if region else None,
        )
        self.key = PipelineKey(
            self,
            "key",
            PipelineKeyProps(name_prefix=name_prefix, environment=environment),
            self.context,
        )
        self.place(self)

    def place(self, construct: IConstruct) -> None:
        """Create `construct` and everything in it through this environment's provider."""
        for node in construct.node.find_all():
            if isinstance(node, TerraformResource | TerraformDataSource):
                node.provider = self.provider

    @contextmanager
    def creating_in(self, scope: Construct) -> Iterator[None]:
        """Place whatever the block adds to `scope` (the constructs that lay out every
        environment alike keep their construct ids, wherever an environment lives)."""
        before = {child.node.path for child in scope.node.children}
        yield
        for child in scope.node.children:
            if child.node.path not in before:
                self.place(child)


def environment_placements(
    scope: Construct,
    application: ApplicationLayout,
    *,
    name_prefix: str,
    pipeline_region: str,
    tags: Mapping[str, str],
) -> dict[str, EnvironmentPlacement]:
    """Environment -> its placement, for each environment that lives elsewhere; one provider
    per (account, region), with the pipeline's default tags. An environment that names no
    region is in `pipeline_region`; Terraform refuses to apply with credentials of any account
    but the one named."""
    providers: dict[str, aws.provider.AwsProvider] = {}
    placements: dict[str, EnvironmentPlacement] = {}
    for environment in application.placed:
        placement = environment.placement
        assert placement is not None
        alias = placement.provider_alias
        if alias not in providers:
            role = placement.terraform_role_arn
            providers[alias] = aws.provider.AwsProvider(
                scope,
                f"provider-{alias}",
                alias=alias,
                region=placement.region or pipeline_region,
                allowed_account_ids=[placement.account_id] if placement.account_id else None,
                assume_role=[
                    aws.provider.AwsProviderAssumeRole(
                        role_arn=role, session_name=f"{name_prefix}-terraform"
                    )
                ]
                if role
                else None,
                default_tags=[aws.provider.AwsProviderDefaultTags(tags=dict(tags))]
                if tags
                else None,
            )
        placements[environment.name] = EnvironmentPlacement(
            scope,
            f"placement-{environment.name}",
            environment=environment.name,
            placement=placement,
            provider=providers[alias],
            name_prefix=name_prefix,
        )
    return placements

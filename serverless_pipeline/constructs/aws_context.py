"""The account, region and partition a stack deploys into, for building ARNs from names.

Building ARNs from names (rather than referencing the resources) breaks the reference cycles
that would otherwise form, for example between a function and the policy that names it.
"""

from __future__ import annotations

from constructs import Construct

from ..engine import aws


class AwsContext(Construct):
    """Data sources for the current account, region and partition; an account or region that
    is known already (an environment's own, named in its config) is used as given."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        account_id: str | None = None,
        region: str | None = None,
        partition: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._account_id = (
            account_id
            or aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "identity").account_id
        )
        self._region = region or aws.data_aws_region.DataAwsRegion(self, "region").region
        self._partition = (
            partition or aws.data_aws_partition.DataAwsPartition(self, "partition").partition
        )

    @property
    def account_id(self) -> str:
        return self._account_id

    @property
    def region(self) -> str:
        return self._region

    @property
    def partition(self) -> str:
        return self._partition

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        """arn:<partition>:<service>:<region>:<account>:<resource>."""
        return ":".join(
            [
                "arn",
                self.partition,
                service,
                self.region if region else "",
                self.account_id if account else "",
                resource,
            ]
        )

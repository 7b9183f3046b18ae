"""The account, region and partition a stack deploys into, for building ARNs from names.

Building ARNs from names (rather than referencing the resources) breaks the reference cycles
that would otherwise form, for example between a function and the policy that names it.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.data_aws_region import DataAwsRegion
from constructs import Construct


class AwsContext(Construct):
    """Data sources for the current account, region and partition."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.identity = DataAwsCallerIdentity(self, "identity")
        self.region_data = DataAwsRegion(self, "region")
        self.partition_data = DataAwsPartition(self, "partition")

    @property
    def account_id(self) -> str:
        return self.identity.account_id

    @property
    def region(self) -> str:
        return self.region_data.region

    @property
    def partition(self) -> str:
        return self.partition_data.partition

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

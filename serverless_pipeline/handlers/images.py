"""The release's container image, for the functions packaged as images.

The build pushes one image per release to the pipeline's ECR repository and names it by digest in
the release (release.image.uri). Lambda runs an image function from exactly the image a digest
names, whatever happens to a tag since, so the handlers only ever deploy and test by digest, and
only an image in the pipeline's own repository.
"""

from __future__ import annotations

from typing import Any

from . import settings
from .clients import client
from .errors import ArtifactNotFound, InvalidEvent, VulnerableImage
from .events import Release

IMAGE = "Image"
# A scan that found these fails the release: CRITICAL is ECR's highest severity.
BLOCKING_SEVERITY = "CRITICAL"
# Scan states whose findings are final (ACTIVE: enhanced scanning, which keeps rescanning).
SCANNED = ("COMPLETE", "ACTIVE")


def uses_images(config: settings.Settings) -> bool:
    return any(function.package_type == IMAGE for function in config.functions)


def image_uri(config: settings.Settings, release: Release) -> str:
    """The release's image, which must be in the pipeline's repository: a release names no image
    of anyone else's for the pipeline to deploy."""
    images = ", ".join(f.name for f in config.functions if f.package_type == IMAGE)
    if release.image is None:
        raise InvalidEvent(
            f"release {release.id} has no image (release.image.uri), but function(s) {images} "
            "run a container image; the build pushes it when it knows of the image functions"
        )
    repository = release.image.split("@", 1)[0]
    if repository != config.image_repository:
        raise InvalidEvent(
            f"release.image.uri is {release.image!r}; expected an image in the pipeline's "
            f"repository {config.image_repository}"
        )
    return release.image


def check(config: settings.Settings, release: Release) -> dict[str, Any]:
    """ValidateCode's checks of the image: it is in the repository at the release's digest, and
    once ECR's scan on push finished, the scan found nothing CRITICAL. A scan still in progress,
    never started or unable to scan the image does not fail the release (its status is
    reported): a release does not wait on the scanner, and a release image is never pushed
    without scan on push. Nothing (an empty report) where no function is an image."""
    if not uses_images(config):
        return {}
    uri = image_uri(config, release)
    repository = config.image_repository.split("/", 1)[1]
    digest = uri.rsplit("@", 1)[1]
    ecr = client("ecr")
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
    except ecr.exceptions.ImageNotFoundException as error:
        raise ArtifactNotFound(
            f"image {uri} of release {release.id} is not in repository {repository}: {error}"
        ) from error
    try:
        scan = ecr.describe_image_scan_findings(
            repositoryName=repository, imageId={"imageDigest": digest}
        )
    except ecr.exceptions.ScanNotFoundException:
        return {"image": {"uri": uri, "scan": "NOT_SCANNED"}}
    status = str(scan.get("imageScanStatus", {}).get("status", "UNKNOWN"))
    counts = scan.get("imageScanFindings", {}).get("findingSeverityCounts", {})
    critical = int(counts.get(BLOCKING_SEVERITY, 0))
    if status in SCANNED and critical:
        raise VulnerableImage(
            f"image {uri} of release {release.id} has {critical} {BLOCKING_SEVERITY} "
            "finding(s) in its ECR scan; fix or update the vulnerable packages and release again"
        )
    return {"image": {"uri": uri, "scan": status, "critical_findings": critical}}

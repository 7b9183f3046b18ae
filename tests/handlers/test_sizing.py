"""The handlers' memory against the largest release validate accepts, measured in a child
process (peak resident memory), not assumed."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from serverless_pipeline import defaults
from serverless_pipeline.handlers import archive
from serverless_pipeline.handlers.errors import ArtifactTooLarge

# What the measured child does not load but a handler in Lambda does: boto3 and the runtime.
RUNTIME_ALLOWANCE_MB = 120
# A module of one short statement per line: the costliest source to compile per byte.
WORST_SOURCE = b"X = 1\n" * (archive.MAX_SOURCE_BYTES // 6)
MEASURE = r"""
import hashlib, resource, sys
from serverless_pipeline.handlers import archive, settings
path = sys.argv[1]
with open(path, "rb") as stream:
    # botocore's body.read() holds the chunks and their join at once: twice the release.
    chunks = iter(lambda: stream.read(1 << 20), b"")
    data = b"".join(list(chunks))
hashlib.sha256(data).hexdigest()
app = settings.Function("app", "app.handler", 256)
report = archive.inspect(data, (app,), "release-tests.json")
print(report.unzipped_bytes, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def largest_release(path: Path) -> None:
    """A release at Lambda's unzipped limit: the worst source file validate compiles, a large
    dependency module it does not, and incompressible data for the rest."""
    dependency = b"VALUE = 1\n" * (16 * 1024 * 1024 // 10)
    fixed = {
        "app.py": b"def handler(event, context):\n    return 1\n",
        "slow.py": WORST_SOURCE,
        "lib/generated.py": dependency,
        "lib-1.0.dist-info/RECORD": b"lib/generated.py,sha256=x,1\n",
        "release-tests.json": b'{"cases": [{"name": "one", "event": {}, "expected": 1}]}',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as release:
        for name, content in fixed.items():
            release.writestr(name, content)
        rest = archive.MAX_UNZIPPED_BYTES - sum(len(c) for c in fixed.values())
        release.writestr("data.bin", os.urandom(rest))


@pytest.mark.slow
def test_the_largest_accepted_release_fits_in_handler_memory(tmp_path: Path) -> None:
    path = tmp_path / "release.zip"
    largest_release(path)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    unzipped, peak_mb = (int(v) for v in done.stdout.split())
    assert unzipped == archive.MAX_UNZIPPED_BYTES
    print(f"peak {peak_mb} MB for a release of {unzipped} bytes")
    assert peak_mb + RUNTIME_ALLOWANCE_MB <= defaults.HANDLER_MEMORY_MB, peak_mb
    # One byte more than Lambda's limit is refused before anything is read.
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as release:
        release.writestr("one-more.bin", b"!")
    with pytest.raises(ArtifactTooLarge, match="unzips to more than"):
        archive.open_archive(path.read_bytes())


def test_an_application_source_file_over_the_compile_limit_is_refused() -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as release:
        release.writestr("big.py", WORST_SOURCE + b"Y = 2\n")
    with pytest.raises(ArtifactTooLarge, match="big.py is 1048578 bytes; the application's own"):
        archive.check_sources(zipfile.ZipFile(data))

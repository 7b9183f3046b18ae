"""Two synths give byte-identical trees: Terraform JSON, asset zips and their hashes."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

from serverless_pipeline.assets import lambda_hash, zip_bytes
from serverless_pipeline.constructs import functions
from tests.conftest import run_main, same_tree


def test_two_synths_are_byte_identical(tmp_path: Path) -> None:
    run_main(tmp_path / "first")
    # A second synth that must rebuild its asset zips from scratch, not reuse the first's files.
    shutil.rmtree(functions.ASSET_DIRECTORY, ignore_errors=True)
    run_main(tmp_path / "second")
    assert same_tree(tmp_path / "first", tmp_path / "second") == []
    stack = tmp_path / "first" / "stacks" / "serverless-pipeline"
    document = json.loads((stack / "cdk.tf.json").read_text())
    zips = sorted(stack.glob("assets/*/*/*.zip"))
    assert len(zips) == 2
    hashes = {f["source_code_hash"] for f in document["resource"]["aws_lambda_function"].values()}
    assert hashes == {lambda_hash(z.read_bytes()) for z in zips}
    for path in zips:
        for info in zipfile.ZipFile(path).infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644


def test_zip_bytes_ignore_input_order() -> None:
    files = [("b.py", b"B = 1\n"), ("a.py", b"A = 1\n")]
    assert zip_bytes(files) == zip_bytes(list(reversed(files)))
    assert zipfile.ZipFile(io.BytesIO(zip_bytes(files))).namelist() == [
        "a.py",
        "b.py",
    ]


def test_the_local_backend_path_does_not_name_this_machine(tmp_path: Path) -> None:
    run_main(tmp_path)
    text = (tmp_path / "stacks" / "serverless-pipeline" / "cdk.tf.json").read_text()
    assert str(Path.cwd()) not in text and str(tmp_path) not in text

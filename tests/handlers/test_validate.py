from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest

from serverless_pipeline.handlers import validate
from serverless_pipeline.handlers.errors import (
    ArtifactCorrupt,
    ArtifactNotFound,
    ArtifactTooLarge,
    ChecksumMismatch,
    ConfigurationError,
    HandlerNotFound,
    InvalidEvent,
    InvalidTestManifest,
    SourceDoesNotCompile,
    UnsafeArtifact,
)
from tests.handlers.conftest import ARTIFACT_BUCKET, Account, app_files, build_zip


def check(account: Account, data: bytes) -> dict[str, object]:
    return validate.handler({"release": account.upload("r2", data)}, None)


def test_a_sound_release_is_reported(account: Account) -> None:
    data = build_zip({**app_files(), "lib/util.py": "X = 1\n"})
    report = check(account, data)
    assert report == {
        "release_id": "r2",
        "bytes": len(data),
        "entries": 3,
        "unzipped_bytes": report["unzipped_bytes"],
        "python_files": 2,
        "native_files": 0,
        "test_cases": 2,
    }


def test_a_missing_object_is_named(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    release["key"] = "releases/r2/other.zip"
    with pytest.raises(ArtifactNotFound, match="s3://pipeline-artifacts/releases/r2/other.zip"):
        validate.handler({"release": release}, None)


def test_a_changed_artifact_fails_its_checksum(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    account.s3.put_object(Bucket=ARTIFACT_BUCKET, Key=release["key"], Body=b"tampered")
    with pytest.raises(ChecksumMismatch, match=release["sha256"]):
        validate.handler({"release": release}, None)


def test_a_corrupt_zip_is_refused(account: Account) -> None:
    with pytest.raises(ArtifactCorrupt, match="not a zip archive"):
        check(account, b"PK\x03\x04 this is not really a zip")


def test_a_syntax_error_is_refused_with_file_and_line(account: Account) -> None:
    data = build_zip({**app_files(), "lib/broken.py": "def oops(:\n"})
    with pytest.raises(SourceDoesNotCompile, match="lib/broken.py does not compile"):
        check(account, data)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def other(event, context):\n    return 1\n", "defines no top-level function 'handler'"),
        ("class handler:\n    pass\n", "defines no top-level function 'handler'"),
    ],
)
def test_a_missing_handler_function_is_refused(account: Account, source: str, message: str) -> None:
    with pytest.raises(HandlerNotFound, match=message):
        check(account, build_zip(app_files(source=source)))


def test_a_missing_handler_module_is_refused(account: Account) -> None:
    files = app_files()
    files["main.py"] = files.pop("app.py")
    with pytest.raises(HandlerNotFound, match="handler module app.py is not in the release"):
        check(account, build_zip(files))


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("{not json", "is not valid JSON"),
        ({"cases": []}, "non-empty list 'cases'"),
        ({"cases": [{"name": "x"}]}, "has no 'event'"),
        ({"cases": [{"name": "x", "event": {}}]}, "needs exactly one of expected"),
        (
            {"cases": [{"name": "x", "event": {}, "expected": 1, "stages": ["prod"]}]},
            "stages is \\['prod'\\]",
        ),
    ],
)
def test_an_invalid_manifest_is_refused(account: Account, manifest: object, message: str) -> None:
    with pytest.raises(InvalidTestManifest, match=message):
        check(account, build_zip(app_files(manifest=manifest)))


def test_an_enormous_manifest_is_refused(account: Account) -> None:
    huge = json.dumps({"cases": [{"name": "x", "event": list(range(300_000)), "expected": 1}]})
    with pytest.raises(ArtifactTooLarge, match="release-tests.json' is larger than 1048576"):
        check(account, build_zip(app_files(manifest=huge)))


def hostile_zip(name: str, content: bytes = b"x", mode: int = 0o100644) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file_name, body in app_files().items():
            archive.writestr(file_name, body)
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        archive.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["../escape.py", "/etc/passwd", "lib/../../escape", "C:evil"])
def test_entries_that_escape_the_archive_are_refused(account: Account, name: str) -> None:
    with pytest.raises(UnsafeArtifact, match="escapes the archive"):
        check(account, hostile_zip(name))


def test_symlinks_are_refused(account: Account) -> None:
    with pytest.raises(UnsafeArtifact, match="is a symbolic link"):
        check(account, hostile_zip("link", b"/etc/passwd", stat.S_IFLNK | 0o777))


def test_a_zip_bomb_is_refused_before_it_is_expanded(account: Account) -> None:
    with pytest.raises(UnsafeArtifact, match="zip bomb"):
        check(account, hostile_zip("bomb.bin", b"\0" * 5_000_000))


def test_a_release_in_another_bucket_is_refused(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    release["bucket"] = "someone-elses-bucket"
    with pytest.raises(InvalidEvent, match="only from the pipeline's artifact bucket"):
        validate.handler({"release": release}, None)


def test_the_release_id_must_match_the_artifact_key(account: Account) -> None:
    release = account.upload("r2", build_zip(app_files()))
    release["id"] = "r3"
    with pytest.raises(InvalidEvent, match="expected an object key under 'releases/r3/'"):
        validate.handler({"release": release}, None)


def test_missing_configuration_is_named(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPLICATION")
    with pytest.raises(ConfigurationError, match="APPLICATION is not set"):
        check(account, build_zip(app_files()))

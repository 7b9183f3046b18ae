"""The site builds with --strict (a broken link or anchor, a missing page or a failed
reference fails it), serves everything it needs itself, and renders in a browser: headless
Chromium (the Debian package `chromium`) loads the home page and a guide from a local server and
takes screenshots, and the navigation and the state machine diagram are there."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.pages import ROOT

CHROMIUM = shutil.which("chromium")
GUIDES = (
    "First deploy",
    "Several functions and environments",
    "Accounts and regions",
    "Release safety gates",
    "Rehearsing your service in CI",
    "Terraform Cloud",
    "CDK Terrain",
    "Upgrading",
)
WIDTH, HEIGHT = 1280, 2400
# Material's fill of a Mermaid node with the indigo palette of mkdocs.yml.
NODE_FILL = bytes.fromhex("edf0ff")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(built)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr
    return built


def test_the_site_builds_strict_and_serves_its_own_mermaid(site: Path) -> None:
    home = (site / "index.html").read_text()
    assert '<pre class="mermaid"><code>flowchart TD' in home
    assert re.search(r'<script src="assets/javascripts/mermaid\.min\.js"></script>', home)
    assert (site / "assets/javascripts/mermaid.min.js").stat().st_size > 1_000_000
    for page in ("guides/first-deploy", "architecture", "reference/api/constructs"):
        assert (site / page / "index.html").is_file()


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def chromium(url: str, profile: Path, *args: str) -> str:
    """Chromium's output for url, after its scripts ran (up to 20 s of virtual time)."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            "--force-device-scale-factor=0.5",
            "--virtual-time-budget=20000",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Screenshot:
    """The pixels of an 8-bit, non-interlaced PNG (what Chromium writes), unfiltered as the PNG
    specification's section 9 says."""

    def __init__(self, png: Path) -> None:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        chunks: dict[bytes, bytes] = {}
        at = 8
        while at < len(data):
            length, kind = struct.unpack(">I4s", data[at : at + 8])
            chunks[kind] = chunks.get(kind, b"") + data[at + 8 : at + 8 + length]
            at += 12 + length
        self.width, self.height, depth, color, _, _, interlace = struct.unpack(
            ">IIBBBBB", chunks[b"IHDR"]
        )
        assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
        self.step = 3 if color == 2 else 4
        raw = zlib.decompress(chunks[b"IDAT"])
        stride = self.width * self.step
        self.rows: list[bytes] = []
        previous = bytes(stride)
        for y in range(self.height):
            at = y * (stride + 1)
            line = self._unfilter(raw[at], bytearray(raw[at + 1 : at + 1 + stride]), previous)
            self.rows.append(line)
            previous = line

    def _unfilter(self, kind: int, line: bytearray, previous: bytes) -> bytes:
        step = self.step
        if kind == 2:  # Up
            return bytes((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        for x in range(len(line)):
            left = line[x - step] if x >= step else 0
            if kind == 1:  # Sub
                line[x] = (line[x] + left) & 0xFF
            elif kind == 3:  # Average
                line[x] = (line[x] + (left + previous[x]) // 2) & 0xFF
            elif kind == 4:  # Paeth
                up, corner = previous[x], previous[x - step] if x >= step else 0
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                nearest = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + nearest) & 0xFF
        return bytes(line)

    def share(self, color: bytes | None, rows: range, columns: range) -> float:
        """The share of the pixels in rows x columns that are `color` (None: any color but the
        page's white)."""
        found = 0
        for y in rows:
            line = self.rows[y]
            for x in columns:
                rgb = line[x * self.step : x * self.step + 3]
                found += rgb == color if color is not None else rgb != b"\xff\xff\xff"
        return found / (len(rows) * len(columns))


@pytest.mark.slow
def test_chromium_renders_the_navigation_and_the_diagram(served: str, tmp_path: Path) -> None:
    if CHROMIUM is None:
        # CI installs it (.ci/run), so there its absence is a failure, not a skip.
        assert not os.environ.get("CI"), "CI has no `chromium`: .ci/run installs it"
        pytest.skip("no `chromium` on PATH: `apt-get install chromium` to render the site")
    home = chromium(f"{served}/", tmp_path / "dom-home", "--dump-dom")
    # Material renders each diagram with Mermaid and puts the SVG into a closed shadow root in
    # place of the <pre>: a diagram that failed to render keeps its <pre class="mermaid">.
    assert '<div class="mermaid"></div>' in home, "the diagram did not render"
    assert '<pre class="mermaid">' not in home
    link = r'class="md-nav__link[^"]*"[^>]*>\s*<span class="md-ellipsis">\s*'
    for title in GUIDES:
        assert re.search(rf"{link}{title}\s*<", home), title
    guide = chromium(f"{served}/guides/first-deploy/", tmp_path / "dom-guide", "--dump-dom")
    assert re.search(r"md-nav__link--active[^>]*>\s*<span[^>]*>\s*First deploy", guide)
    assert "From an empty account" in guide

    shots = {}
    for name, path in (("home", "/"), ("guide", "/guides/first-deploy/")):
        png = tmp_path / f"{name}.png"
        chromium(f"{served}{path}", tmp_path / f"shot-{name}", f"--screenshot={png}")
        shot = shots[name] = Screenshot(png)
        # Half the window's size: the device scale factor.
        assert (shot.width, shot.height) == (WIDTH // 2, HEIGHT // 2)
        assert shot.share(None, range(shot.height), range(shot.width)) > 0.05, f"{name}: blank"
        # The navigation column holds its links' text.
        assert shot.share(None, range(50, 350), range(15, 125)) > 0.01, f"{name}: no navigation"
    # The content column shows the diagram: its nodes are filled with the theme's Mermaid node
    # color (a rendered diagram), not a grey block of its source.
    home = shots["home"]
    assert home.share(NODE_FILL, range(home.height), range(140, 500)) > 0.005

"""Measure the rehearsal's wall time, in fresh processes, as a user runs it before a push.

Run by hand (not in CI): `.venv/bin/python benchmarks/rehearsal.py [--repeat N]`.
(a) the example's four-release sequence `rehearse ok production-deploy ok staging-tests --json`;
(b) one `ok` release of an application of your own (`--app`, `--config`), here a small service
with a 15-minute canary, a 4-hour approval and the smoke hook: time the emulator lets pass in
moments. Goals: (a) at most 5 s, (b) at most 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "serverless_pipeline", "rehearse"]
SERVICE = """
def handler(event, context):
    if event.get("ping"):
        return {"pong": True}
    return {"sum": sum(event["numbers"])}
"""
CONFIG = """
from serverless_pipeline import (
    SMOKE_TESTS, ApplicationProps, EnvironmentSettings, PipelineConfig, TrafficShift,
)

config = PipelineConfig(
    name="shop",
    region="eu-west-1",
    application=ApplicationProps(
        name="shop-api",
        handler="service.api.handler",
        staging=EnvironmentSettings("CodeDeployDefault.LambdaAllAtOnce", {"STAGE": "staging"}),
        production=EnvironmentSettings(
            TrafficShift("canary", 10, 15),
            {"STAGE": "production"},
            before_allow_traffic=SMOKE_TESTS,
        ),
    ),
    approval_timeout_seconds=4 * 3600,
)
"""
MANIFEST = {
    "cases": [
        {"name": "sums", "event": {"numbers": [1, 2, 3]}, "expected": {"sum": 6}},
        {"name": "pings", "event": {"ping": True}, "expected": {"pong": True}, "stages": ["smoke"]},
    ]
}


def user_project(directory: Path) -> None:
    (directory / "src" / "service").mkdir(parents=True)
    (directory / "src" / "service" / "__init__.py").write_text("")
    (directory / "src" / "service" / "api.py").write_text(SERVICE)
    (directory / "src" / "release-tests.json").write_text(json.dumps(MANIFEST))
    (directory / "shop_pipeline.py").write_text(CONFIG)


def timed(arguments: list[str], cwd: Path, expected: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run(
        COMMAND + arguments, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != expected:
        raise SystemExit(f"{' '.join(arguments)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {repeat} fresh processes per case, interleaved\n"
    )
    cases = {
        "a: rehearse ok production-deploy ok staging-tests --json (example)": (
            ["ok", "production-deploy", "ok", "staging-tests", "--json"],
            1,
            5.0,
        ),
        "b: rehearse ok --app src --config shop_pipeline:config (15-min canary, approval)": (
            ["ok", "--app", "src", "--config", "shop_pipeline:config", "--json"],
            0,
            3.0,
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory() as directory:
        user_project(Path(directory))
        for _ in range(repeat):
            for name, (arguments, expected, _) in cases.items():
                times[name].append(timed(arguments, Path(directory), expected))
    for name, (_, _, goal) in cases.items():
        values = times[name]
        print(name)
        print(
            f"  wall s: median {statistics.median(values):6.2f}  min {min(values):6.2f}  "
            f"max {max(values):6.2f}  (goal: at most {goal:g})"
        )


if __name__ == "__main__":
    main()

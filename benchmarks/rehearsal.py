"""Measure the rehearsal's wall time, in fresh processes, as a user runs it before a push.

Run by hand (not in CI): `.venv/bin/python benchmarks/rehearsal.py [--repeat N]`.
(a) the example's four-release sequence `rehearse ok production-deploy ok staging-tests --json`;
(b) one `ok` release of an application of your own (`--app`, `--config`), here a small service
with a 15-minute canary, a 4-hour approval and the smoke hook: time the emulator lets pass in
moments; (c) the same service written in Node.js (its handler runs in a `node` process);
(d) a three-function service through dev, staging and production, with a canary, an approval, a
10-minute bake and a Monday-to-Thursday window (the clock pinned to a Monday), so that growth with
functions x environments is measured. Goals: (a) at most 5 s, (b) at most 3 s, (c) at most 1.3
times (b).
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
NODE_SERVICE = """
exports.handler = async (event) => {
  if (event.ping) {
    return { pong: true };
  }
  return { sum: event.numbers.reduce((a, b) => a + b, 0) };
};
"""
NODE_CONFIG = CONFIG.replace(
    'handler="service.api.handler",', 'handler="service/api.handler", runtime="nodejs22.x",'
)
GRID_CONFIG = """
from serverless_pipeline import (
    SMOKE_TESTS, ApplicationProps, DeploymentWindow, Environment, FunctionSettings,
    PipelineConfig, TrafficShift,
)

config = PipelineConfig(
    name="shop",
    region="eu-west-1",
    application=ApplicationProps(
        name="shop",
        functions={
            "api": FunctionSettings(handler="service.api.handler"),
            "worker": FunctionSettings(handler="service.api.handler"),
            "jobs": FunctionSettings(handler="service.api.handler"),
        },
    ),
    environments=(
        Environment("dev", variables={"STAGE": "dev"}),
        Environment("staging", variables={"STAGE": "staging"}),
        Environment(
            "production",
            deployment_config=TrafficShift("canary", 10, 15),
            variables={"STAGE": "production"},
            before_allow_traffic=SMOKE_TESTS,
            approval_timeout_seconds=4 * 3600,
            bake_minutes=10,
            deployment_window=DeploymentWindow(
                days=("Mon", "Tue", "Wed", "Thu"), start="08:00", end="18:00",
                time_zone="Europe/Berlin",
            ),
        ),
    ),
)
"""
MANIFEST = {
    "cases": [
        {"name": "sums", "event": {"numbers": [1, 2, 3]}, "expected": {"sum": 6}},
        {"name": "pings", "event": {"ping": True}, "expected": {"pong": True}, "stages": ["smoke"]},
    ]
}
GRID_MANIFEST = {
    "cases": [
        {**case, "name": f"{function} {case['name']}", "function": function}
        for function in ("api", "worker", "jobs")
        for case in MANIFEST["cases"]
    ]
}


def user_project(directory: Path) -> None:
    """Three applications side by side: the Python service, its Node.js twin, the grid."""
    for source, service, manifest in (
        ("src", ("service/api.py", SERVICE), MANIFEST),
        ("node-src", ("service/api.js", NODE_SERVICE), MANIFEST),
        ("grid-src", ("service/api.py", SERVICE), GRID_MANIFEST),
    ):
        (directory / source / "service").mkdir(parents=True)
        (directory / source / service[0]).write_text(service[1])
        (directory / source / "release-tests.json").write_text(json.dumps(manifest))
    (directory / "src" / "service" / "__init__.py").write_text("")
    (directory / "grid-src" / "service" / "__init__.py").write_text("")
    (directory / "shop_pipeline.py").write_text(CONFIG)
    (directory / "node_pipeline.py").write_text(NODE_CONFIG)
    (directory / "grid_pipeline.py").write_text(GRID_CONFIG)


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
    cases: dict[str, tuple[list[str], int, float | None]] = {
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
        "c: the same service in Node.js (--app node-src --config node_pipeline:config)": (
            ["ok", "--app", "node-src", "--config", "node_pipeline:config", "--json"],
            0,
            None,
        ),
        "d: 3 functions x 3 environments, canary, approval, bake, window (--start a Monday)": (
            [
                *("ok", "--app", "grid-src", "--config", "grid_pipeline:config", "--json"),
                *("--start", "2027-01-04T09:00:00Z"),
            ],
            0,
            None,
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
            f"max {max(values):6.2f}" + (f"  (goal: at most {goal:g})" if goal else "")
        )
    python, node = (statistics.median(times[n]) for n in list(cases)[1:3])
    print(f"\nNode.js / Python own-app release (c / b): {node / python:.2f} (goal: at most 1.3)")


if __name__ == "__main__":
    main()

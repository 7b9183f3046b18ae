"""Measure synthesis against the cost of importing the AWS provider bindings, on each engine.

Run by hand (not in CI): `.venv/bin/python benchmarks/synth.py [--repeat N]`. For each installed
engine (cdktf, CDK Terrain) it measures a plain import of that engine's provider package and
`python main.py` on that engine, all cases interleaved in one run. Each measurement is a fresh
process; peak memory is the largest sum of resident memory over the whole process tree (Python
and its Node.js jsii child), sampled every 10 ms from /proc.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(pid: int) -> int:
    """Resident bytes of pid and all its descendants (0 for processes already gone)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measure(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak tree RSS in bytes) of one run of command."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{command} failed: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return elapsed, peak


# engine -> its provider package (as serverless_pipeline.engine.PROVIDERS, which this script does
# not import: importing it would choose an engine and start a kernel in the measuring process)
PROVIDERS = {"cdktf": "cdktf_cdktf_provider_aws", "cdktn": "cdktn_provider_aws"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (at least 3)")
    repeat = max(3, parser.parse_args().repeat)
    engines = [e for e, p in PROVIDERS.items() if importlib.util.find_spec(p) is not None]
    base = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    with tempfile.TemporaryDirectory() as outdir:
        env = {**base, "CDKTF_OUTDIR": outdir}
        # name -> (command, environment); per engine: the import, then the synth
        cases: dict[str, tuple[list[str], dict[str, str]]] = {}
        for engine in engines:
            on_engine = {**env, "SERVERLESS_PIPELINE_ENGINE": engine}
            cases[f"{engine} a: import {PROVIDERS[engine]}"] = (
                [sys.executable, "-c", f"import {PROVIDERS[engine]}"],
                on_engine,
            )
            cases[f"{engine} b: python main.py (full example synth)"] = (
                [sys.executable, "main.py"],
                on_engine,
            )
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in cases}
        for _ in range(repeat):  # interleaved, so that machine noise hits every case alike
            for name, (command, case_env) in cases.items():
                results[name].append(measure(command, case_env))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PHYS_PAGES') * PAGE / 2**30:.0f} GiB, Python "
        f"{platform.python_version()}, {platform.platform()}"
    )
    print(f"{repeat} fresh processes per case, interleaved\n")
    medians = {}
    for name, runs in results.items():
        times = [t for t, _ in runs]
        peaks = [p / 2**20 for _, p in runs]
        medians[name] = (statistics.median(times), statistics.median(peaks))
        print(f"{name}")
        print(
            f"  wall s:   median {statistics.median(times):6.2f}  "
            f"min {min(times):6.2f}  max {max(times):6.2f}"
        )
        print(f"  peak RSS: median {statistics.median(peaks):6.0f} MiB (python + node)")
    print()
    for engine in engines:
        (a_time, a_rss), (b_time, b_rss) = (
            value for name, value in medians.items() if name.startswith(f"{engine} ")
        )
        print(f"{engine}: ratio b/a wall time {b_time / a_time:.2f}, peak RSS {b_rss / a_rss:.2f}")


if __name__ == "__main__":
    main()

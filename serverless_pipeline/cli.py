"""The `serverless-pipeline` command: rehearse deployments against the emulator."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from .diagram import mermaid
from .example import example_config

EXIT_PROMOTED, EXIT_ROLLED_BACK, EXIT_USAGE, EXIT_BROKEN = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="serverless-pipeline",
        description="Rehearse the pipeline's deployments on this machine, without AWS, or "
        "print its state machine.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rehearse = commands.add_parser(
        "rehearse",
        help="push releases of a sample app through the real state machine and handlers",
        description="Each RELEASE is one new release of the sample app, an api and a worker "
        "function (r2, r3, ...): 'ok', or one with a real defect that surfaces at a stage: "
        "validate, unit-tests, staging-deploy, staging-tests, production-deploy, and in the "
        "worker only: worker-staging-tests, worker-production-deploy. Default: one ok release.",
    )
    rehearse.add_argument("releases", nargs="*", metavar="RELEASE", default=["ok"])
    rehearse.add_argument("--json", action="store_true", help="print one JSON document only")
    commands.add_parser("diagram", help="print the deployment state machine as a Mermaid flowchart")
    arguments = parser.parse_args(argv)
    if arguments.command == "diagram":
        print(mermaid(), end="")
        return EXIT_PROMOTED
    return run_rehearsal(arguments.releases, as_json=arguments.json, out=sys.stdout)


def run_rehearsal(kinds: list[str], *, as_json: bool, out: TextIO) -> int:
    try:
        from .rehearsal import runner, sample_app
    except ImportError as error:  # moto is an optional dependency of the library
        print(
            f"serverless-pipeline: the rehearsal needs the 'rehearsal' extra ({error}); "
            "pip install 'cdktf-serverless-pipeline[rehearsal]'",
            file=sys.stderr,
        )
        return EXIT_BROKEN
    unknown = [kind for kind in kinds if kind not in sample_app.KINDS]
    if unknown:
        print(
            f"serverless-pipeline rehearse: unknown release kind {', '.join(map(repr, unknown))};"
            f" valid kinds: {', '.join(sample_app.KINDS)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    printer = None if as_json else ProgressPrinter(out)
    rehearsal = runner.rehearse(example_config(), kinds, printer)
    known_good = {"r1", *(r.release for r in rehearsal.releases if r.outcome == "promoted")}
    stranded = {env: live for env, live in rehearsal.live.items() if live not in known_good}
    if as_json:
        print(json.dumps(rehearsal.to_json(), indent=2), file=out)
    else:
        print_table(rehearsal, out)
    if stranded:
        print(
            f"serverless-pipeline: environments left on no known good release: {stranded}",
            file=sys.stderr,
        )
        return EXIT_BROKEN
    rolled_back = any(r.outcome == "rolled_back" for r in rehearsal.releases)
    return EXIT_ROLLED_BACK if rolled_back else EXIT_PROMOTED


class ProgressPrinter:
    """One line per state: its name when entered, how it ended when it exits."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.release: str | None = None

    def __call__(self, release: str, state: str, event: str) -> None:
        if release != self.release:
            self.release = release
            print(f"release {release}", file=self.out)
        if event == "entered":
            print(f"  {state:.<32}", end=" ", file=self.out, flush=True)
        else:
            print(event, file=self.out, flush=True)


def print_table(rehearsal: object, out: TextIO) -> None:
    from .rehearsal.runner import Rehearsal

    assert isinstance(rehearsal, Rehearsal)
    environments = list(rehearsal.live)
    rows = [("release", "kind", "outcome", "failed state", *environments)]
    rows += [
        (
            r.release,
            r.kind,
            r.outcome,
            r.failed_state or "-",
            *(r.live[env] or "mixed" for env in environments),
        )
        for r in rehearsal.releases
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(file=out)
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
    now = ", ".join(f"{env} {release or 'mixed'}" for env, release in rehearsal.live.items())
    print(f"\nlive now: {now}", file=out)

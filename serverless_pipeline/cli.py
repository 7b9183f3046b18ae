"""The `serverless-pipeline` command: rehearse deployments against the emulator."""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .config import PipelineConfig
from .diagram import definition_of, mermaid
from .example import EXAMPLES
from .layout import pipeline_layout
from .rehearsal.conditions import Conditions, condition_problems
from .validation import ConfigurationError

if TYPE_CHECKING:
    from .rehearsal.source import ReleaseSource

EXIT_PROMOTED, EXIT_ROLLED_BACK, EXIT_USAGE, EXIT_BROKEN = 0, 1, 2, 3


class UsageError(Exception):
    """The command line asks for something that cannot be rehearsed (exit 2)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="serverless-pipeline",
        description="Rehearse the pipeline's deployments on this machine, without AWS, or "
        "print its state machine.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rehearse = commands.add_parser(
        "rehearse",
        help="push releases through the real state machine and handlers, in an emulator",
        description="Each RELEASE is one new release (r2, r3, ...) of the sample app (api, "
        "worker and notifier functions) or, with --app, of your own application: 'ok', or a "
        "drill with a real defect that surfaces at a stage: validate, unit-tests, "
        "staging-deploy, staging-tests, production-deploy, production-bake (fails only under "
        "the users' traffic while the last environment bakes), and in the worker only: "
        "worker-staging-tests, worker-production-deploy; or abort-staging, abort-production: "
        "an operator stops the execution while that environment deploys. 'staging' names the "
        "first environment and 'production' the last, whatever their names. Default: one ok "
        "release.",
    )
    rehearse.add_argument("releases", nargs="*", metavar="RELEASE", default=["ok"])
    rehearse.add_argument("--json", action="store_true", help="print one JSON document only")
    rehearse.add_argument(
        "--app",
        metavar="DIR",
        help="your application's source, as the build packages it (its handler modules and "
        "test manifest); default: the sample app",
    )
    rehearse.add_argument(
        "--config",
        metavar="MODULE:ATTR",
        help="your PipelineConfig, or a function returning one, in a module importable from "
        "the current directory; default: the example",
    )
    rehearse.add_argument(
        "--example",
        choices=sorted(EXAMPLES),
        default="orders",
        help="which example to rehearse without --config: orders (one account, the default) or "
        "multi-account (staging in its own account, production in another account and region)",
    )
    rehearse.add_argument(
        "--alarm-firing",
        metavar="ENV",
        action="append",
        default=[],
        help="ENV's alarms are in ALARM from the start (a dependency is down): a release "
        "stops before deploying there (AlarmBlocked); repeatable",
    )
    rehearse.add_argument(
        "--outside-window",
        metavar="ENV",
        action="append",
        default=[],
        help="ENV's deployment window stays closed (a change freeze on its Change Calendar): a "
        "release waits for it, then fails (OutsideDeploymentWindow); repeatable",
    )
    rehearse.add_argument(
        "--start",
        metavar="ISO-TIME",
        type=start_time,
        help="when the emulator's clock starts, e.g. 2027-01-04T09:00:00Z (a time without an "
        "offset is UTC); pin it in CI so that deployment windows see the same weekday and hour "
        "on every run; default: now",
    )
    rehearse.add_argument(
        "--line-stopped",
        action="store_true",
        help="the line is stopped: a release waits before its first environment, then fails "
        "(LineStopped)",
    )
    rehearse.add_argument(
        "--stack",
        metavar="PATH",
        help="the synthesized stack of this pipeline (a cdk.tf.json, or the directory `cdktf "
        "synth` wrote it to) whose IAM policies the rehearsal enforces; default: the stack "
        "synthesized here from the configuration",
    )
    diagram = commands.add_parser(
        "diagram", help="print the deployment state machine as a Mermaid flowchart"
    )
    diagram.add_argument(
        "--config",
        metavar="MODULE:ATTR",
        help="your PipelineConfig, as for rehearse; default: the example",
    )
    arguments = parser.parse_args(argv)
    if arguments.command == "diagram":
        try:
            pipeline = load_config(arguments.config) if arguments.config else None
        except UsageError as error:
            print(f"serverless-pipeline diagram: {error}", file=sys.stderr)
            return EXIT_USAGE
        print(mermaid(definition_of(pipeline) if pipeline else None), end="")
        return EXIT_PROMOTED
    return run_rehearsal(
        arguments.releases,
        as_json=arguments.json,
        out=sys.stdout,
        app=arguments.app,
        config=arguments.config,
        example=arguments.example,
        conditions=Conditions(
            alarm_firing=tuple(arguments.alarm_firing),
            outside_window=tuple(arguments.outside_window),
            line_stopped=arguments.line_stopped,
        ),
        start=arguments.start,
        stack=arguments.stack,
    )


def start_time(text: str) -> datetime.datetime:
    """--start's value: an ISO 8601 time (UTC unless it names an offset: the clock's rule)."""
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time; expected e.g. 2027-01-04T09:00:00Z"
        ) from error


def load_config(spec: str) -> PipelineConfig:
    """The PipelineConfig that MODULE:ATTR names (ATTR may be a function returning one),
    checked as the stack would check it."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"--config {spec!r}: expected MODULE:ATTR, such as pipeline:config")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # the user's module: any failure is theirs to see
        raise UsageError(
            f"--config {spec}: module {module_name!r} does not import from {os.getcwd()}: "
            f"{type(error).__name__}: {error}"
        ) from error
    if not hasattr(module, attribute):
        raise UsageError(f"--config {spec}: module {module_name!r} has no {attribute!r}")
    value = getattr(module, attribute)
    if callable(value) and not isinstance(value, PipelineConfig):
        value = value()
    if not isinstance(value, PipelineConfig):
        raise UsageError(
            f"--config {spec}: {attribute!r} is a {type(value).__name__}, not a PipelineConfig "
            "or a function returning one"
        )
    # Every problem of every part at once: one round of fixes, not one per part.
    try:
        value.validate()
    except ConfigurationError as error:
        listed = "".join(f"\n  - {problem}" for problem in error.problems)
        raise UsageError(
            f"--config {spec}: {len(error.problems)} invalid setting(s):{listed}"
        ) from error
    return value


def run_rehearsal(
    kinds: list[str],
    *,
    as_json: bool,
    out: TextIO,
    app: str | None = None,
    config: str | None = None,
    example: str = "orders",
    conditions: Conditions | None = None,
    start: datetime.datetime | None = None,
    stack: str | None = None,
) -> int:
    try:
        from .emulator.iam_enforcement import PermissionDenied
        from .rehearsal import runner, sample_app, user_app
    except ImportError as error:  # moto is an optional dependency of the library
        print(
            f"serverless-pipeline: the rehearsal needs the 'rehearsal' extra ({error}); "
            "pip install 'cdktf-serverless-pipeline[rehearsal]'",
            file=sys.stderr,
        )
        return EXIT_BROKEN
    try:
        if config and example != "orders":
            raise UsageError(f"--config and --example {example} both name a pipeline; give one")
        pipeline = load_config(config) if config else EXAMPLES[example]()
        layout = pipeline_layout(pipeline).application
        refused = runner.function_problems(layout)
        if refused:
            raise UsageError("; ".join(refused))
        source: ReleaseSource = sample_app.SampleApp()
        if app is not None:
            source = user_app.open_app(app, layout, pipeline.test_manifest)
        conditions = conditions or Conditions()
        problems = runner.kind_problems(source, kinds)
        problems += condition_problems(pipeline, kinds, conditions)
        if problems:
            raise UsageError("; ".join(problems))
        document = load_stack(stack, conditions) if stack else None
    except (UsageError, user_app.AppError) as error:
        print(f"serverless-pipeline rehearse: {error}", file=sys.stderr)
        return EXIT_USAGE
    printer = None if as_json else ProgressPrinter(out)
    try:
        rehearsal = runner.rehearse(
            pipeline,
            kinds,
            printer,
            source=source,
            conditions=conditions,
            start=start,
            stack=document,
        )
    except PermissionDenied as error:  # AWS would refuse a call: the stack needs a grant
        print(f"serverless-pipeline rehearse: {error}", file=sys.stderr)
        return EXIT_BROKEN
    except Exception as error:  # the rehearsal itself broke: say so, with the cause
        print(
            f"serverless-pipeline: the rehearsal broke: {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return EXIT_BROKEN
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


def load_stack(path: str, conditions: Conditions) -> dict[str, Any]:
    """The synthesized stack at `path` (a cdk.tf.json, or a directory with one stack in it)."""
    if conditions.outside_window:
        # The closed window is a Change Calendar the rehearsal adds to the configuration: a
        # stack synthesized without it grants no access to it.
        raise UsageError("--stack and --outside-window cannot be combined; drop --stack")
    found = Path(path)
    if found.is_dir():
        candidates = sorted(found.glob("cdk.tf.json")) or sorted(found.glob("**/cdk.tf.json"))
        if len(candidates) != 1:
            raise UsageError(
                f"--stack {path}: expected one cdk.tf.json in it, found {len(candidates)}"
            )
        found = candidates[0]
    try:
        document = json.loads(found.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"--stack {path}: not a readable cdk.tf.json ({error})") from error
    if not isinstance(document, dict) or "resource" not in document:
        raise UsageError(f"--stack {path}: not a synthesized Terraform stack")
    return document


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
    print(f"\nthe emulator's clock started at {rehearsal.started_at}", file=out)
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
    failures = [r for r in rehearsal.releases if r.failed_state]
    if failures:
        print(file=out)
    for failed in failures:
        # The cause under the failed state: what the handler said, not only its error's name.
        print(f"{failed.release} {failed.failed_state}: {failed.error or 'failed'}", file=out)
        if failed.cause:
            print(textwrap.indent(textwrap.fill(failed.cause, 96), "    "), file=out)
    now = ", ".join(f"{env} {release or 'mixed'}" for env, release in rehearsal.live.items())
    print(f"\nlive now: {now}", file=out)

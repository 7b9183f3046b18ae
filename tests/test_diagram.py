from __future__ import annotations

import re
from pathlib import Path

import pytest

from serverless_pipeline import asl
from serverless_pipeline.cli import main
from serverless_pipeline.diagram import mermaid

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_shows_the_generated_diagram() -> None:
    text = README.read_text()
    match = re.search(
        r"<!-- diagram:start -->\n```mermaid\n(.*?)```\n<!-- diagram:end -->", text, re.DOTALL
    )
    assert match, "README has no diagram block"
    assert match.group(1) == mermaid(), (
        "README diagram is stale: paste `serverless-pipeline diagram`"
    )


def test_every_deciding_task_has_a_dotted_edge_to_rollback() -> None:
    chart = mermaid()
    tasks = [name for name, s in asl.template()["States"].items() if s["Type"] == "Task"]
    for name in tasks:
        edge = f'    {name} -. "States.ALL" .-> Rollback\n'
        deciding = name != "Rollback" and not name.startswith("Notify")
        assert (edge in chart) == deciding, name
    assert '    StagingDeployed -- "otherwise" --> WaitForStagingDeployment' in chart


def test_the_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram"]) == 0
    assert capsys.readouterr().out == mermaid()

from __future__ import annotations

import pytest

from serverless_pipeline import asl
from serverless_pipeline.cli import main
from serverless_pipeline.diagram import mermaid


def test_every_deciding_task_has_a_dotted_edge_to_rollback() -> None:
    chart = mermaid()
    states = asl.compose([("staging", None), ("production", None)])["States"]
    tasks = [name for name, s in states.items() if s["Type"] == "Task"]
    for name in tasks:
        edge = f'    {name} -. "States.ALL" .-> Rollback\n'
        deciding = name != "Rollback" and not name.startswith("Notify")
        assert (edge in chart) == deciding, name
    assert '    StagingDeployed -- "otherwise" --> WaitForStagingDeployment' in chart


def test_the_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram"]) == 0
    assert capsys.readouterr().out == mermaid()


def test_a_diagram_follows_the_environments() -> None:
    chart = mermaid(asl.compose([("dev", None), ("staging", 3600), ("production", None)]))
    assert "    RunTests --> StartDevGates\n" in chart
    assert '    DevGatesOpen -- "gate_dev.open BooleanEquals True" --> DeployDev\n' in chart
    assert "    RunTestsInDev --> WaitForApprovalStaging\n" in chart
    assert "    WaitForApprovalStaging --> StartStagingGates\n" in chart
    assert "    RunTestsInStaging --> ApprovalRequired\n" in chart
    assert "RunTestsInProduction" not in chart

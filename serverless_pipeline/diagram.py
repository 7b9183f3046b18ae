"""A Mermaid flowchart of the deployment state machine, generated from its ASL template.

Generated, never drawn by hand: the documentation's copy (docs/snippets/state-machine.md, written
by `make docs-diagram`) is checked against this output by the tests, so the picture people read
is the machine that runs.
"""

from __future__ import annotations

from typing import Any

from . import asl
from .config import PipelineConfig
from .example import example_config
from .layout import pipeline_layout

_SHAPES = {
    "Task": ("[", "]"),
    "Choice": ("{", "}"),
    "Wait": ("[/", "/]"),
    "Succeed": ("([", "])"),
    "Fail": ("([", "])"),
}


def _condition(choice: dict[str, Any]) -> str:
    variable = choice.get("Variable", "")
    for operator, value in choice.items():
        if operator not in {"Variable", "Next"}:
            return f"{variable.removeprefix('$.')} {operator} {value}"
    return "condition"


def _waits(state: dict[str, Any]) -> str:
    """How long a Wait state waits, in words."""
    if "SecondsPath" in state:
        return "until the gate opens"
    seconds = state["Seconds"]
    return "poll interval" if isinstance(seconds, str) else f"{seconds // 60} min"


def definition_of(config: PipelineConfig) -> dict[str, Any]:
    """The state machine a configuration's pipeline runs (its environments, approvals and
    bakes), as the stack composes it."""
    application = pipeline_layout(config).application
    definition: dict[str, Any] = asl.compose(application.stages(), application.bake())
    return definition


def mermaid(definition: dict[str, Any] | None = None) -> str:
    """The flowchart of `definition` (by default the example pipeline's: staging, production)."""
    document = definition or definition_of(example_config())
    states: dict[str, Any] = document["States"]
    lines = ["flowchart TD", f"    start((start)) --> {document['StartAt']}"]
    for name, state in states.items():
        opening, closing = _SHAPES.get(state["Type"], ("[", "]"))
        label = name if state["Type"] != "Wait" else f"{name}: {_waits(state)}"
        lines.append(f'    {name}{opening}"{label}"{closing}')
    for name, state in states.items():
        for choice in state.get("Choices", []):
            lines.append(f'    {name} -- "{_condition(choice)}" --> {choice["Next"]}')
        if "Default" in state:
            lines.append(f'    {name} -- "otherwise" --> {state["Default"]}')
        if "Next" in state:
            lines.append(f"    {name} --> {state['Next']}")
        for catch in state.get("Catch", []):
            errors = ", ".join(catch["ErrorEquals"])
            lines.append(f'    {name} -. "{errors}" .-> {catch["Next"]}')
    return "\n".join(lines) + "\n"

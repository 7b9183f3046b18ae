"""EventBridge rules on Step Functions' status changes, which moto does not send.

In AWS, every status change of a standard workflow's execution reaches the default event bus
as a "Step Functions Execution Status Change" event, and the rules whose pattern matches send
it to their targets. `deliver` does that for an execution that ended: it builds the event as
AWS does, matches it against the account's rules (the patterns the stack creates) and invokes
the Lambda targets, asynchronously in AWS, here before it returns.
"""

from __future__ import annotations

import json
from typing import Any

from ..handlers.clients import client

DETAIL_TYPE = "Step Functions Execution Status Change"


def status_change(execution: dict[str, Any]) -> dict[str, Any]:
    """The event of an execution's status (a DescribeExecution answer)."""
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": DETAIL_TYPE,
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "input": execution.get("input"),
        },
    }


def matches(pattern: Any, value: Any) -> bool:
    """EventBridge's matching for the patterns the pipeline uses: every key of the pattern is
    in the event, and each leaf list holds the event's value."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and matches(part, value[key]) for key, part in pattern.items()
        )
    return isinstance(pattern, list) and value in pattern


def deliver(region: str, event: dict[str, Any]) -> list[Any]:
    """Send the event to the Lambda targets of every matching rule of the default bus; what
    each target answered."""
    events, lam = client("events", region), client("lambda", region)
    answers = []
    for rule in events.list_rules()["Rules"]:
        if not matches(json.loads(rule.get("EventPattern") or "{}"), event):
            continue
        for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
            if ":lambda:" in target["Arn"]:
                response = lam.invoke(
                    FunctionName=target["Arn"], Payload=json.dumps(event).encode()
                )
                answers.append(json.loads(response["Payload"].read() or "null"))
    return answers

"""Functions deployed straight into an emulated account, so that one runtime's code runs without
a pipeline around it: what the Python and Node.js runtime tests share."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from serverless_pipeline.assets import zip_bytes
from serverless_pipeline.emulator.lambda_runtime import InProcessRuntime, in_process_lambda

REGION = "eu-west-1"


@dataclass
class Emulator:
    lam: Any
    role: str
    runtime: InProcessRuntime
    default_runtime: str
    """The Lambda runtime a function gets unless `deploy` names another."""
    app: Mapping[str, str]
    """The files a function's code holds unless `deploy` gives others."""

    def deploy(
        self,
        name: str,
        handler: str,
        *,
        files: Mapping[str, str] | None = None,
        runtime: str | None = None,
        role: str | None = None,
        timeout: int = 3,
    ) -> None:
        self.lam.create_function(
            FunctionName=name,
            Runtime=runtime or self.default_runtime,
            Role=role or self.role,
            Handler=handler,
            Code={"ZipFile": code(files or self.app)},
            Timeout=timeout,
            MemorySize=256,
            Environment={"Variables": {"GREETING": "hello"}},
        )

    def invoke(self, name: str, event: Any = None) -> tuple[Any, str | None]:
        """(payload, FunctionError) of one invocation."""
        response = self.lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))
        return json.loads(response["Payload"].read()), response.get("FunctionError")


def code(files: Mapping[str, str]) -> bytes:
    return zip_bytes([(path, text.lstrip().encode()) for path, text in files.items()])


@contextmanager
def emulated(
    monkeypatch: pytest.MonkeyPatch, default_runtime: str, app: Mapping[str, str]
) -> Iterator[Emulator]:
    """An account with a role for functions, whose code runs as the emulator runs it; every
    function's process is gone after the block."""
    # Something of the machine's, which the function's process must not see.
    monkeypatch.setenv("MACHINE_SECRET", "not for the function")
    with mock_aws(config={"lambda": {"use_docker": False}}), in_process_lambda() as runtime:
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="app", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = boto3.client("lambda", region_name=REGION)
        yield Emulator(lam, role, runtime, default_runtime, app)

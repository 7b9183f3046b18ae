"""Application Python code in the emulator runs as Lambda's Python runtime runs it: in a process of
its own, with only its release and the runtime's libraries (boto3) on its path.

The error types and messages are Lambda's, from the Lambda developer guide ("Python Lambda function
errors": an exception answers {errorMessage, errorType, stackTrace} with the exception's class
name) and from the runtime interface client Lambda runs them with (awslambdaric's bootstrap:
Runtime.ImportModuleError "Unable to import module 'api': No module named 'yaml'",
Runtime.UserCodeSyntaxError, Runtime.HandlerNotFound "Handler 'x' missing on module 'api'")."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from moto.s3.models import s3_backends

from serverless_pipeline.emulator.clock import CLOCK
from tests.rehearsal.emulated_functions import REGION, Emulator, code, emulated

OTHER_ACCOUNT = "111111111111"

APP = {
    "counter.py": """
import os
import sys
import time

calls = []


def handler(event, context):
    calls.append(1)
    print("counting", len(calls))
    return {
        "calls": len(calls),
        "event": event,
        "greeting": os.environ.get("GREETING"),
        "machine_secret": os.environ.get("MACHINE_SECRET"),
        "lambda": [os.environ["AWS_REGION"], context.function_name, context.function_version,
                   context.memory_limit_in_mb, len(context.aws_request_id)],
        "remaining": context.get_remaining_time_in_millis(),
        "now": time.time(),
        "pid": os.getpid(),
        "path": sys.path,
    }
""",
    "undeclared.py": "import yaml\n\n\ndef handler(event, context):\n    return yaml.__name__\n",
    "emulator.py": "import moto\n\n\ndef handler(event, context):\n    return 1\n",
    "broken.py": "def handler(event, context)\n    return 1\n",
    "nameless.py": "def other(event, context):\n    return 1\n",
    "fails.py": """
def handler(event, context):
    return check(event)


def check(event):
    raise KeyError("numbers")
""",
    "spins.py": "def handler(event, context):\n    while True:\n        pass\n",
    "exits.py": "import sys\n\n\ndef handler(event, context):\n    sys.exit(3)\n",
    "unserializable.py": "def handler(event, context):\n    return {1, 2}\n",
    "calls_aws.py": """
import boto3


def handler(event, context):
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket=event["bucket"], CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_object(Bucket=event["bucket"], Key="note", Body=b"from the function")
    return {
        "arn": boto3.client("sts").get_caller_identity()["Arn"],
        "length": s3.head_object(Bucket=event["bucket"], Key="note")["ContentLength"],
    }
""",
    "invokes.py": """
import json

import boto3


def handler(event, context):
    answer = boto3.client("lambda").invoke(FunctionName=event["target"], Payload=b"{}")
    return json.loads(answer["Payload"].read())
""",
}


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with emulated(monkeypatch, "python3.12", APP) as opened:
        yield opened


def test_a_handler_runs_in_a_process_of_its_own_with_lambdas_environment(
    emulator: Emulator,
) -> None:
    emulator.deploy("counter", "counter.handler")
    CLOCK.advance(3600)  # the emulator's clock is ahead of the machine's: the code reads it
    result, error = emulator.invoke("counter", {"numbers": [1, 2]})
    assert error is None
    assert result["pid"] != os.getpid()
    assert result["event"] == {"numbers": [1, 2]}
    assert (result["greeting"], result["machine_secret"]) == ("hello", None)
    assert result["lambda"] == [REGION, "counter", "$LATEST", "256", 36]
    assert 0 < result["remaining"] <= 3000
    assert abs(result["now"] - CLOCK.time()) < 5
    # The code's directory first, then the runtime's libraries, then the standard library:
    # nothing of the emulator's site-packages.
    task_root, libraries, *rest = result["path"]
    assert sorted(os.listdir(libraries)) == sorted(
        ["boto3", "botocore", "dateutil", "jmespath", "s3transfer", "six.py", "urllib3"]
    )
    assert os.listdir(task_root) and not any("site-packages" in p for p in rest)
    # What the code printed went to its log, not into the answer.
    log = (emulator.runtime.python.logs / "counter.log").read_text()
    assert "counting 1" in log


def test_a_module_the_release_lacks_fails_to_import_as_in_lambda(emulator: Emulator) -> None:
    """PyYAML and moto are in the emulator's own environment, not in the release."""
    emulator.deploy("undeclared", "undeclared.handler")
    for _ in range(2):  # the environment that failed to load is not kept: it fails again
        error, kind = emulator.invoke("undeclared")
        assert kind == "Unhandled"
        assert error == {
            "errorMessage": "Unable to import module 'undeclared': No module named 'yaml'",
            "errorType": "Runtime.ImportModuleError",
            "stackTrace": [],
        }
    emulator.deploy("emulator", "emulator.handler")
    error, _ = emulator.invoke("emulator")
    assert error["errorMessage"] == "Unable to import module 'emulator': No module named 'moto'"


@pytest.mark.parametrize(
    ("handler", "kind", "message"),
    [
        ("broken.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'broken': "),
        ("nameless.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module "),
        ("fails.handler", "KeyError", "'numbers'"),
        ("exits.handler", "Runtime.ExitError", "Error: Runtime exited with error: exit status 3"),
        ("unserializable.handler", "Runtime.MarshalError", "Unable to marshal response: "),
    ],
)
def test_errors_answer_as_lambdas_python_runtime_does(
    emulator: Emulator, handler: str, kind: str, message: str
) -> None:
    emulator.deploy("function", handler)
    error, function_error = emulator.invoke("function")
    assert function_error == "Unhandled"
    assert error["errorType"] == kind
    assert message in error["errorMessage"]
    if kind == "KeyError":
        # The handler's frames, innermost last, not the runtime's.
        assert [line.split(", in ")[-1].split("\n")[0] for line in error["stackTrace"]] == [
            "handler",
            "check",
        ]


def test_an_environment_stays_warm_until_its_code_changes(emulator: Emulator) -> None:
    emulator.deploy("counter", "counter.handler")
    first, _ = emulator.invoke("counter")
    second, _ = emulator.invoke("counter")
    assert (second["calls"], second["pid"]) == (2, first["pid"])
    emulator.lam.update_function_code(
        FunctionName="counter", ZipFile=code({**APP, "other.py": "x = 1\n"})
    )
    cold, _ = emulator.invoke("counter")
    assert cold["calls"] == 1 and cold["pid"] != first["pid"]


def test_a_handler_past_its_timeout_is_ended(emulator: Emulator) -> None:
    emulator.deploy("spins", "spins.handler", timeout=1)
    error, function_error = emulator.invoke("spins")
    assert function_error == "Unhandled"
    assert error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "Task timed out after 1.00 seconds",
    }


def test_aws_calls_reach_the_emulated_account_of_the_functions_role(emulator: Emulator) -> None:
    # A function of another account: its code's calls land there, as its credentials do in AWS.
    keys = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/admin", RoleSessionName="test"
    )["Credentials"]
    there = boto3.Session(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
        region_name=REGION,
    )
    role = there.client("iam").create_role(RoleName="app", AssumeRolePolicyDocument="{}")
    elsewhere = replace(emulator, lam=there.client("lambda"), role=role["Role"]["Arn"])
    # Importing boto3 takes a cold start a second or more on a busy machine.
    elsewhere.deploy("calls-aws", "calls_aws.handler", timeout=60)
    result, error = elsewhere.invoke("calls-aws", {"bucket": "notes-elsewhere"})
    assert error is None, result
    assert result == {
        "arn": f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/app/calls-aws",
        "length": len(b"from the function"),
    }
    bucket = s3_backends[OTHER_ACCOUNT]["aws"].get_bucket("notes-elsewhere")
    assert bucket.keys["note"].value == b"from the function"


def test_a_function_invokes_another_while_it_waits(emulator: Emulator) -> None:
    emulator.deploy("counter", "counter.handler", timeout=60)
    emulator.deploy("invokes", "invokes.handler", timeout=60)
    result, error = emulator.invoke("invokes", {"target": "counter"})
    assert error is None, result
    assert result["calls"] == 1 and result["greeting"] == "hello"

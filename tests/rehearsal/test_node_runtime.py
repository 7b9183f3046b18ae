"""Node.js functions in the emulator: their code runs on the machine's node and answers as Lambda's
Node.js runtime does.

The error types and messages are Lambda's, from the Lambda developer guide: "Node.js Lambda
function errors" (an error the handler throws answers {errorType, errorMessage, trace} with the
error's own name, e.g. ReferenceError) and "Define Lambda function handler in Node.js" (the
handler is file.export, the file .js, .mjs or .cjs; async and callback handlers), and from the
runtime interface client Lambda runs them with (Runtime.HandlerNotFound "index.handler is
undefined or not exported", Runtime.ImportModuleError "Error: Cannot find module ...",
Runtime.UserCodeSyntaxError "SyntaxError: ...")."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from serverless_pipeline.emulator.clock import CLOCK
from serverless_pipeline.emulator.lambda_runtime import (
    RuntimeNotEmulated,
)
from serverless_pipeline.handlers.runtimes import RUNTIMES
from tests.rehearsal.emulated_functions import REGION, Emulator, code, emulated


def machine_runtime() -> str | None:
    """The Lambda runtime of this machine's node (nodejs22.x for Node.js 22), or None when there
    is no node or Lambda has no runtime of its version."""
    node = shutil.which("node")
    if node is None:
        return None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    runtime = f"nodejs{version.stdout.strip().removeprefix('v').partition('.')[0]}.x"
    return runtime if runtime in RUNTIMES else None


NODE_RUNTIME = machine_runtime()
needs_node = pytest.mark.skipif(
    NODE_RUNTIME is None, reason="no node on PATH of a version Lambda runs"
)
pytestmark = needs_node

APP = {
    # CommonJS: module state survives between invocations of a warm environment.
    "counter.js": """
let calls = 0;
exports.handler = async (event, context) => {
  calls += 1;
  console.log("counting", calls);
  process.stdout.write('{"result": "not the answer"}\\n');
  return {
    calls,
    event,
    greeting: process.env.GREETING,
    lambda: [process.env.AWS_REGION, process.env.AWS_LAMBDA_FUNCTION_NAME,
      process.env.AWS_LAMBDA_FUNCTION_VERSION, process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      process.env._HANDLER, process.env.LAMBDA_TASK_ROOT === process.cwd()],
    context: [context.functionName, context.memoryLimitInMB, context.awsRequestId.length],
    credentials: [process.env.AWS_ACCESS_KEY_ID, process.env.MACHINE_SECRET ?? null],
    endpoint: process.env.AWS_ENDPOINT_URL,
    now: Date.now(),
    constructed: new Date().getTime(),
    pid: process.pid,
  };
};
""",
    # An ES module whose handler throws.
    "orders.mjs": """
export const handler = async (event) => {
  if (!event.order) {
    throw new TypeError("an order id is required");
  }
  return { order: event.order };
};
""",
    "callback.js": """
exports.handler = (event, context, callback) => {
  if (event.fail) {
    callback(new RangeError("out of range"));
    return;
  }
  setTimeout(() => callback(null, { late: true }), 20);
};
""",
    "plain.js": "exports.handler = (event) => ({ ignored: true });\n",
    "broken.js": "exports.handler = async (event) => {\n",
    "imports.cjs": 'require("not-in-the-release");\nexports.handler = async () => 1;\n',
    "spins.js": """
let calls = 0;
exports.handler = async (event) => {
  calls += 1;
  while (event.spin) {}
  return { calls };
};
""",
    "exits.js": "exports.handler = async () => { process.exit(3); };\n",
    "throws_later.js": """
exports.handler = async () => {
  setTimeout(() => { throw new Error("thrown outside the handler"); }, 0);
  return new Promise(() => {});
};
""",
    # An AWS SDK's request is an HTTP request to the endpoint, signed with the function's keys
    # (the emulated account reads whose keys they are from the signature's scope).
    "calls_aws.js": """
const http = require("node:http");
exports.handler = (event, context, callback) => {
  const scope = `${process.env.AWS_ACCESS_KEY_ID}/20270104/${process.env.AWS_REGION}/sts`;
  const request = http.request(process.env.AWS_ENDPOINT_URL, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `AWS4-HMAC-SHA256 Credential=${scope}/aws4_request, Signature=0`,
    },
  }, (response) => {
    let body = "";
    response.on("data", (chunk) => { body += chunk; });
    response.on("end", () => callback(null, { status: response.statusCode, body }));
  });
  request.on("error", (error) => callback(null, { refused: error.code }));
  request.end("Action=GetCallerIdentity&Version=2011-06-15");
};
""",
}


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    assert NODE_RUNTIME is not None  # the module is skipped without one
    with emulated(monkeypatch, NODE_RUNTIME, APP) as opened:
        yield opened


def test_a_handler_answers_with_its_result_and_lambdas_environment(emulator: Emulator) -> None:
    emulator.deploy("counter", "counter.handler")
    CLOCK.advance(3600)  # the emulator's clock is ahead of the machine's: the code reads it
    result, error = emulator.invoke("counter", {"numbers": [1, 2]})
    assert error is None
    assert result["event"] == {"numbers": [1, 2]}
    assert result["greeting"] == "hello"
    assert result["lambda"] == [REGION, "counter", "$LATEST", "256", "counter.handler", True]
    assert result["context"] == ["counter", "256", 36]
    # The keys of the function's role (not the ones this process holds), nothing else of the
    # machine's, and the emulated account's endpoint.
    key, machine_secret = result["credentials"]
    assert machine_secret is None
    assert key != os.environ["AWS_ACCESS_KEY_ID"]
    assert result["endpoint"].startswith("http://127.0.0.1:")
    for stamp in (result["now"], result["constructed"]):
        assert abs(stamp - CLOCK.time() * 1000) < 5_000
    # What the code printed went to its log, not into the answer.
    log = (emulator.runtime.node.logs / "counter.log").read_text()
    assert "counting 1" in log and "not the answer" in log


def test_an_aws_call_from_node_reaches_the_emulated_account_as_its_role(
    emulator: Emulator,
) -> None:
    emulator.deploy("calls-aws", "calls_aws.handler")
    result, error = emulator.invoke("calls-aws")
    assert error is None
    assert result["status"] == 200, result
    assert "<Arn>arn:aws:sts::123456789012:assumed-role/app/" in result["body"]


def test_a_thrown_error_answers_with_its_own_name(emulator: Emulator) -> None:
    # "Node.js Lambda function errors": {"errorType": "ReferenceError", "errorMessage": ...,
    # "trace": [...]} for an error the handler throws.
    emulator.deploy("orders", "orders.handler")
    assert emulator.invoke("orders", {"order": 7}) == ({"order": 7}, None)
    error, kind = emulator.invoke("orders", {})
    assert kind == "Unhandled"
    assert error["errorType"] == "TypeError"
    assert error["errorMessage"] == "an order id is required"
    assert error["trace"][0] == "TypeError: an order id is required"


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        # The runtime interface client: "${handler} is undefined or not exported".
        (
            "orders.missing",
            "Runtime.HandlerNotFound",
            "orders.missing is undefined or not exported",
        ),
        (
            "imports.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'not-in-the-release'",
        ),
        ("broken.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected end of input"),
        ("nowhere.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'nowhere'"),
    ],
)
def test_code_that_does_not_load_answers_the_runtimes_error(
    emulator: Emulator, handler: str, error_type: str, message: str
) -> None:
    emulator.deploy("fn", handler)
    for _ in range(2):  # a failed start is not kept: the next invocation tries again
        error, kind = emulator.invoke("fn")
        assert kind == "Unhandled"
        assert error["errorType"] == error_type
        assert error["errorMessage"].startswith(message)


def test_an_environment_stays_warm_until_its_code_changes(emulator: Emulator) -> None:
    emulator.deploy("counter", "counter.handler")
    first = [emulator.invoke("counter")[0] for _ in range(3)]
    assert [r["calls"] for r in first] == [1, 2, 3]
    assert len({r["pid"] for r in first}) == 1
    changed = {**APP, "counter.js": APP["counter.js"].replace("calls += 1", "calls += 10")}
    emulator.lam.update_function_code(FunctionName="counter", ZipFile=code(changed))
    assert emulator.invoke("counter")[0]["calls"] == 10  # a cold start of the new code
    # New variables are another environment too.
    emulator.lam.update_function_configuration(
        FunctionName="counter", Environment={"Variables": {"GREETING": "hi"}}
    )
    assert emulator.invoke("counter")[0]["calls"] == 10


def test_package_json_type_module_makes_a_js_file_an_es_module(emulator: Emulator) -> None:
    files = {
        "package.json": '{"type": "module"}',
        "src/index.js": "export const handler = async () => ({ esm: typeof require });\n",
    }
    emulator.deploy("esm", "src/index.handler", files=files)
    assert emulator.invoke("esm") == ({"esm": "undefined"}, None)


def test_callback_handlers_answer_through_the_callback(emulator: Emulator) -> None:
    # "Define Lambda function handler in Node.js": a callback handler answers through its third
    # argument; a plain function that neither returns a promise nor calls back answers null.
    emulator.deploy("callback", "callback.handler")
    emulator.deploy("plain", "plain.handler")
    assert emulator.invoke("callback") == ({"late": True}, None)
    error, kind = emulator.invoke("callback", {"fail": True})
    assert (kind, error["errorType"], error["errorMessage"]) == (
        "Unhandled",
        "RangeError",
        "out of range",
    )
    assert emulator.invoke("plain") == (None, None)


@pytest.mark.slow
def test_a_handler_past_its_timeout_is_ended(emulator: Emulator) -> None:
    emulator.deploy("spins", "spins.handler", timeout=1)
    assert emulator.invoke("spins") == ({"calls": 1}, None)
    assert emulator.invoke("spins", {"spin": True}) == (
        {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"},
        "Unhandled",
    )
    # The environment was discarded with its process: the next invocation starts cold.
    assert emulator.invoke("spins") == ({"calls": 1}, None)


def test_an_environment_that_exits_or_breaks_starts_cold_next_time(emulator: Emulator) -> None:
    emulator.deploy("exits", "exits.handler")
    error, kind = emulator.invoke("exits")
    assert kind == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    # An error thrown where no handler catches it answers the invocation and ends the process.
    emulator.deploy("throws-later", "throws_later.handler")
    error, _ = emulator.invoke("throws-later")
    assert (error["errorType"], error["errorMessage"]) == ("Error", "thrown outside the handler")
    error, _ = emulator.invoke("throws-later")
    assert error["errorMessage"] == "thrown outside the handler"


def test_closing_the_runtime_ends_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    assert NODE_RUNTIME is not None  # the module is skipped without one
    with emulated(monkeypatch, NODE_RUNTIME, APP) as emulator:
        emulator.deploy("one", "counter.handler")
        emulator.deploy("two", "counter.handler")
        pids = {emulator.invoke(name)[0]["pid"] for name in ("one", "two")}
        assert len(pids) == 2  # two functions, two environments
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_runtime_this_machine_cannot_run_is_never_run(emulator: Emulator) -> None:
    emulator.deploy("java", "example.Handler::handleRequest", runtime="java21")
    with pytest.raises(RuntimeNotEmulated, match="function java runs java21: the rehearsal runs"):
        emulator.invoke("java")

"""ValidateCode for functions of every runtime family and both architectures: each function's
entry point, what can be read of it without running it, and the architecture of every native
file of the release, driven through the real handler against moto."""

from __future__ import annotations

import base64
import io
import json
import os
import struct
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from serverless_pipeline.handlers import archive, settings, validate
from serverless_pipeline.handlers.errors import (
    ArtifactCorrupt,
    ConfigurationError,
    HandlerNotFound,
    SourceDoesNotCompile,
    UnsafeArtifact,
    WrongArchitecture,
)
from tests.handlers.conftest import MANIFEST, Account, application

EM_386, EM_ARM, EM_PPC64, EM_X86_64, EM_AARCH64 = 3, 40, 21, 62, 183
MACHINES = {"x86_64": EM_X86_64, "arm64": EM_AARCH64}
EXECUTABLE, READABLE = 0o100755, 0o100644
SCRIPT = b"#!/bin/sh\nexec ./app\n"
CLASS = b"\xca\xfe\xba\xbe\x00\x00\x00\x41"
LAYER = "arn:aws:lambda:eu-west-1:123456789012:layer:runtime:1"

Validate = Callable[..., dict[str, Any]]


def elf(machine: int, *, big_endian: bool = False) -> bytes:
    """An ELF header (System V ABI: e_ident, e_type, e_machine, ...) of a 64-bit shared object
    and the start of its body."""
    order = ">" if big_endian else "<"
    ident = b"\x7fELF" + bytes([2, 2 if big_endian else 1, 1]) + bytes(9)
    return ident + struct.pack(f"{order}HH", 3, machine) + bytes(44)


def jar(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as library:
        for name, content in files.items():
            library.writestr(name, content)
    return buffer.getvalue()


def release(files: Mapping[str, str | bytes], modes: Mapping[str, int | None]) -> bytes:
    """A release of `files` and the test manifest, each file with mode 0644 unless `modes` gives
    another; None: no Unix mode, only the MS-DOS archive attribute, as a zip tool on Windows
    writes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as built:
        for name, content in sorted({**files, "release-tests.json": json.dumps(MANIFEST)}.items()):
            info = zipfile.ZipInfo(name)
            mode = modes.get(name, READABLE)
            if mode is None:
                info.create_system, info.external_attr = 0, 0x20
            else:
                info.external_attr = mode << 16
            built.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def function(
    handler: str, runtime: str, architecture: str = "x86_64", **more: Any
) -> dict[str, Any]:
    return {"handler": handler, "runtime": runtime, "architecture": architecture, **more}


@pytest.fixture
def check(account: Account, monkeypatch: pytest.MonkeyPatch) -> Validate:
    """validate.handler on a release of `files` for the application of `functions` (name ->
    handler or entry with runtime and architecture)."""

    def run(
        functions: Mapping[str, str | Mapping[str, Any]],
        files: Mapping[str, str | bytes],
        modes: Mapping[str, int | None] | None = None,
    ) -> dict[str, Any]:
        monkeypatch.setenv("APPLICATION", application(functions))
        data = release(files, modes or {})
        return validate.handler({"release": account.upload("r2", data)}, None)

    return run


# Node.js. Lambda loads the handler's module as path/file.js, .mjs or .cjs, in that order
# (Lambda developer guide, "Define Lambda function handler in Node.js": "the value of the
# Handler setting is the file name and the name of the exported handler method, separated by a
# dot"; its extensions and their order are the Node.js runtime interface client's module loader).


@pytest.mark.parametrize("runtime", ["nodejs22.x", "nodejs24.x"])
@pytest.mark.parametrize(
    ("handler", "path", "source"),
    [
        ("index.handler", "index.js", "exports.handler = async (event) => event;\n"),
        ("index.handler", "index.js", "module.exports.handler = async (event) => event;\n"),
        (
            "index.handler",
            "index.cjs",
            "const handler = async () => 1;\nmodule.exports = { handler };\n",
        ),
        ("index.handler", "index.cjs", "module.exports = {\n  handler: async () => 1,\n};\n"),
        ("index.handler", "index.mjs", "export const handler = async (event) => event;\n"),
        ("index.handler", "index.mjs", "export async function handler(event) {\n  return 1;\n}\n"),
        (
            "index.handler",
            "index.mjs",
            "const main = async () => 1;\nexport { main as handler };\n",
        ),
        ("src/api.handler", "src/api.js", "export class handler {}\n"),
        ("src/api.default", "src/api.mjs", "export default async (event) => event;\n"),
        (
            "dist/index.handler",
            "dist/index.js",
            'Object.defineProperty(exports, "__esModule", { value: true });\n'
            "exports.handler = void 0;\nconst handler = async () => 1;\n"
            "exports.handler = handler;\n",
        ),
    ],
)
def test_a_node_module_that_exports_the_handler_is_accepted(
    check: Validate, runtime: str, handler: str, path: str, source: str
) -> None:
    report = check({"api": function(handler, runtime)}, {path: source})
    assert (report["python_files"], report["native_files"]) == (0, 0)


@pytest.mark.parametrize("files", [{"main.js": "exports.handler = 1;\n"}, {"index.ts": "x"}])
def test_a_missing_node_module_names_every_file_lambda_looks_for(
    check: Validate, files: dict[str, str]
) -> None:
    with pytest.raises(
        HandlerNotFound,
        match="handler module index \\(index.js, index.mjs, index.cjs\\) is not in the release",
    ):
        check({"api": function("index.handler", "nodejs22.x")}, files)


def test_the_node_module_is_the_one_lambda_loads_first(check: Validate) -> None:
    files = {"index.js": "exports.main = 1;\n", "index.mjs": "export const handler = 1;\n"}
    with pytest.raises(HandlerNotFound, match="index.js exports no 'handler'; it exports main"):
        check({"api": function("index.handler", "nodejs22.x")}, files)


@pytest.mark.parametrize(
    ("path", "source", "exported"),
    [
        # CommonJS without the name, or under another one.
        ("index.js", "exports.main = async () => 1;\n", "main"),
        ("index.js", "const handler = 1;\nexports.main = handler;\n", "main"),
        ("index.js", "exports = module.exports;\nexports.main = 1;\n", "main"),
        ("index.cjs", "const handler = 1;\nmodule.exports = { main };\n", "main"),
        # An ES module without the name, or under another one.
        ("index.mjs", "export const main = async () => 1;\n", "main"),
        ("index.mjs", "const handler = 1;\nexport { handler as main };\n", "main"),
        ("index.mjs", "export default async () => 1;\n", "default"),
        # Defined but not exported at all.
        ("index.js", "async function handler(event) {\n  return event;\n}\n", "nothing"),
    ],
)
def test_a_node_module_without_the_export_is_refused(
    check: Validate, path: str, source: str, exported: str
) -> None:
    message = f"{path} exports no 'handler'; it exports {exported}$"
    with pytest.raises(HandlerNotFound, match=message):
        check({"api": function("index.handler", "nodejs22.x")}, {path: source})


@pytest.mark.parametrize(
    "source",
    [
        "module.exports = require('./impl');\n",
        "export * from './impl.mjs';\n",
        # esbuild's CommonJS output.
        "var src_exports = {};\n__export(src_exports, { handler: () => handler });\n"
        "module.exports = __toCommonJS(src_exports);\n",
        # webpack's output.library.type "commonjs".
        "var __webpack_export_target__ = exports;\n"
        "for (var i in __webpack_exports__)\n"
        "  __webpack_export_target__[i] = __webpack_exports__[i];\n",
        # TypeScript's re-export of a whole module.
        'Object.defineProperty(exports, "__esModule", { value: true });\n'
        '__exportStar(require("./impl"), exports);\n',
        "exports.main = 1;\nObject.assign(module.exports, require('./impl'));\n",
        "exports.main = 1;\nexports[name] = impl;\n",
        "module['exports'] = impl;\n",
        "export const main = 1;\nexport const { handler } = impl;\n",
    ],
)
def test_a_node_module_whose_exports_cannot_be_read_is_accepted(
    check: Validate, source: str
) -> None:
    check({"api": function("index.handler", "nodejs22.x")}, {"index.js": source})


@pytest.mark.parametrize(
    "source",
    [
        "export const main = 1, handler = async () => 2;\n",
        "export let main, handler;\nhandler = async () => 1;\n",
        "exports = module.exports = { handler };\n",
        "this.handler = async () => 1;\n",
        'Object.defineProperty(exports, "handler", {\n'
        "  enumerable: true,\n  get: () => impl.handler,\n});\n",
    ],
)
def test_a_node_export_in_a_rarer_form_is_found(check: Validate, source: str) -> None:
    check({"api": function("index.handler", "nodejs22.x")}, {"index.js": source})


def test_a_node_module_past_the_source_limit_is_found_but_not_read(check: Validate) -> None:
    # Incompressible, so that the zip bomb check lets it through.
    padding = base64.b64encode(os.urandom(archive.MAX_SOURCE_BYTES)).decode()
    bundle = f"/* {padding} */\nexports.main = 1;\n"
    check({"api": function("index.handler", "nodejs22.x")}, {"index.js": bundle})


def test_a_node_release_does_not_compile_python_files_but_a_python_function_does(
    check: Validate,
) -> None:
    files = {
        "index.js": "exports.handler = 1;\n",
        "node_modules/node-gyp/gyp/old.py": 'print "python 2"\n',
    }
    node = {"api": function("index.handler", "nodejs22.x")}
    assert check(node, files)["python_files"] == 0
    with pytest.raises(SourceDoesNotCompile, match="old.py does not compile"):
        check({**node, "worker": "app.handler"}, {**files, "app.py": "def handler(e, c): pass\n"})


@pytest.mark.parametrize(
    ("runtime", "handler"),
    [
        ("nodejs22.x", "index"),
        ("java21", "example/Handler::handleRequest"),
        ("python3.13", "app"),
        ("dotnet10", "MyApp::MyApp.Function"),
    ],
)
def test_a_handler_not_of_its_runtimes_form_is_refused(
    check: Validate, runtime: str, handler: str
) -> None:
    with pytest.raises(HandlerNotFound, match=f"^{runtime} handler is '{handler}'; expected"):
        check({"api": function(handler, runtime)}, {"index.js": "", "app.py": ""})


# Java: classes at the release's root, dependencies as jars in lib/ (Lambda developer guide,
# "Deploy Java Lambda functions with .zip or JAR file archives").


@pytest.mark.parametrize("runtime", ["java21", "java25"])
@pytest.mark.parametrize(
    ("handler", "path"),
    [
        ("example.Handler::handleRequest", "example/Handler.class"),
        ("example.Handler", "example/Handler.class"),
        ("example.Outer$Inner::handle", "example/Outer$Inner.class"),
        ("Handler::handleRequest", "Handler.class"),
    ],
)
def test_a_java_class_at_the_root_is_accepted(
    check: Validate, runtime: str, handler: str, path: str
) -> None:
    check({"api": function(handler, runtime)}, {path: CLASS})


def test_a_java_class_inside_a_jar_under_lib_is_accepted(check: Validate) -> None:
    files = {
        "lib/dependency.jar": jar({"org/dep/Util.class": CLASS}),
        "lib/app.jar": jar({"META-INF/MANIFEST.MF": b"", "example/Handler.class": CLASS}),
    }
    functions = {
        "api": function("example.Handler::handleRequest", "java21"),
        "worker": function("org.dep.Util::run", "java21", "arm64"),
    }
    check(functions, files)


@pytest.mark.parametrize(
    "files",
    [
        {"lib/dependency.jar": jar({"org/dep/Util.class": CLASS})},
        # Lambda puts only the jars directly in lib/ on the classpath.
        {"app.jar": jar({"example/Handler.class": CLASS})},
        {"lib/app/app.jar": jar({"example/Handler.class": CLASS})},
        {"classes/example/Handler.class": CLASS},
        {"example/Handler.java": "class Handler {}"},
    ],
)
def test_a_java_class_in_neither_place_is_refused(check: Validate, files: dict[str, bytes]) -> None:
    message = (
        "class example.Handler \\(example/Handler.class, at the root or in a jar under lib/\\) "
        "is not in the release"
    )
    with pytest.raises(HandlerNotFound, match=message):
        check({"api": function("example.Handler::handleRequest", "java21")}, files)


def test_the_jars_are_read_only_for_a_class_not_at_the_root(check: Validate) -> None:
    files = {"example/Handler.class": CLASS, "lib/broken.jar": b"not a zip"}
    check({"api": function("example.Handler::handleRequest", "java21")}, files)
    with pytest.raises(ArtifactCorrupt, match="lib/broken.jar is not a zip archive"):
        check({"api": function("example.Other::handleRequest", "java21")}, files)


def test_a_jar_is_held_to_the_release_safety_limits(check: Validate) -> None:
    files = {"lib/app.jar": jar({"../example/Handler.class": CLASS})}
    with pytest.raises(UnsafeArtifact, match="'../example/Handler.class' escapes the archive"):
        check({"api": function("example.Handler::handleRequest", "java21")}, files)


# .NET: the assembly at the release's root.


@pytest.mark.parametrize(
    ("handler", "path"),
    [
        ("MyApp::MyApp.Function::FunctionHandler", "MyApp.dll"),
        ("My.App::My.App.Function::FunctionHandler", "My.App.dll"),
        ("MyApp", "MyApp.dll"),
    ],
)
def test_a_dotnet_assembly_at_the_root_is_accepted(
    check: Validate, handler: str, path: str
) -> None:
    check({"api": function(handler, "dotnet10")}, {path: b"MZ\x90\x00", "MyApp.deps.json": "{}"})


@pytest.mark.parametrize("files", [{"publish/MyApp.dll": b"MZ"}, {"MyApp.exe": b"MZ"}, {}])
def test_a_missing_dotnet_assembly_is_refused(check: Validate, files: dict[str, bytes]) -> None:
    with pytest.raises(
        HandlerNotFound, match="assembly MyApp.dll \\(at the root\\) is not in the release"
    ):
        check({"api": function("MyApp::MyApp.Function::FunctionHandler", "dotnet10")}, files)


# provided.al2023: "A custom runtime's entry point is an executable file named bootstrap [...]
# If the bootstrap file doesn't exist or isn't executable, your function returns a
# Runtime.InvalidEntrypoint error upon invocation" (Lambda developer guide, "Building a custom
# runtime for AWS Lambda", Entrypoint).


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_an_executable_bootstrap_of_the_functions_architecture_is_accepted(
    check: Validate, architecture: str
) -> None:
    functions = {"api": function("bootstrap", "provided.al2023", architecture)}
    binary = {"bootstrap": elf(MACHINES[architecture])}
    assert check(functions, binary, {"bootstrap": EXECUTABLE})["native_files"] == 1
    # A script bootstrap names its interpreter and runs on either.
    assert check(functions, {"bootstrap": SCRIPT}, {"bootstrap": 0o100775})["native_files"] == 0


@pytest.mark.parametrize("files", [{"bin/bootstrap": SCRIPT}, {"bootstrap.sh": SCRIPT}])
def test_a_missing_bootstrap_is_refused(check: Validate, files: dict[str, bytes]) -> None:
    modes = dict.fromkeys(files, EXECUTABLE)
    message = "the custom runtime's executable bootstrap \\(at the root\\) is not in the release"
    with pytest.raises(HandlerNotFound, match=message):
        check({"api": function("bootstrap", "provided.al2023")}, files, modes)


def test_a_bootstrap_may_come_from_a_layer(check: Validate) -> None:
    functions = {"api": function("function.handler", "provided.al2023", layers=[LAYER])}
    check(functions, {"function.sh": SCRIPT})
    # Only for the function that has the layer.
    functions["worker"] = function("function.handler", "provided.al2023")
    with pytest.raises(HandlerNotFound, match="executable bootstrap \\(at the root\\) is not"):
        check(functions, {"function.sh": SCRIPT})


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (READABLE, "bootstrap has mode 0644; Lambda runs it only if it is executable"),
        (0o600, "bootstrap has mode 0600"),
        (None, "bootstrap has no Unix file mode.*keeps the executable bit \\(zip does\\)"),
    ],
)
def test_a_bootstrap_that_is_not_executable_is_refused(
    check: Validate, mode: int | None, message: str
) -> None:
    with pytest.raises(HandlerNotFound, match=message):
        check(
            {"api": function("bootstrap", "provided.al2023")},
            {"bootstrap": elf(EM_X86_64)},
            {"bootstrap": mode},
        )


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"\xcf\xfa\xed\xfe\x0c\x00\x00\x01", "a macOS \\(Mach-O\\) executable"),
        (b"MZ\x90\x00\x03\x00", "a Windows \\(PE\\) executable"),
        (
            b"cd $LAMBDA_TASK_ROOT\n./app\n",
            "neither an ELF executable nor a script starting with #!",
        ),
    ],
)
def test_a_bootstrap_lambda_cannot_start_is_refused(
    check: Validate, content: bytes, kind: str
) -> None:
    with pytest.raises(HandlerNotFound, match=f"bootstrap is {kind}"):
        check(
            {"api": function("bootstrap", "provided.al2023")},
            {"bootstrap": content},
            {"bootstrap": EXECUTABLE},
        )


@pytest.mark.parametrize(("architecture", "other"), [("x86_64", "arm64"), ("arm64", "x86_64")])
def test_a_bootstrap_of_the_other_architecture_is_refused(
    check: Validate, architecture: str, other: str
) -> None:
    with pytest.raises(
        WrongArchitecture,
        match=f"bootstrap is {other} code but function api runs on {architecture}",
    ):
        check(
            {"api": function("bootstrap", "provided.al2023", architecture)},
            {"bootstrap": elf(MACHINES[other])},
            {"bootstrap": EXECUTABLE},
        )


def test_custom_runtime_functions_of_both_architectures_need_a_script_bootstrap(
    check: Validate,
) -> None:
    functions = {
        "api": function("bootstrap", "provided.al2023", "x86_64"),
        "worker": function("bootstrap", "provided.al2023", "arm64"),
    }
    files = {"bootstrap": SCRIPT, "app-x86_64": elf(EM_X86_64), "app-arm64": elf(EM_AARCH64)}
    modes = dict.fromkeys(files, EXECUTABLE)
    assert check(functions, files, modes)["native_files"] == 2
    with pytest.raises(
        WrongArchitecture, match="bootstrap is x86_64 code but function worker runs on arm64"
    ):
        check(functions, {"bootstrap": elf(EM_X86_64)}, {"bootstrap": EXECUTABLE})


# The architecture of native files (ELF e_machine: EM_X86_64 62, EM_AARCH64 183).

NATIVE = [
    ("lib/numpy/_core/_multiarray_umath.cpython-313-x86_64-linux-gnu.so", READABLE),
    ("node_modules/sharp/build/Release/sharp.node", READABLE),
    ("lib/libvips.so.42", READABLE),
    ("bin/ffmpeg", EXECUTABLE),
]


@pytest.mark.parametrize(("path", "mode"), NATIVE)
@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_a_native_file_of_the_functions_architecture_is_accepted(
    check: Validate, path: str, mode: int, architecture: str
) -> None:
    functions = {"app": function("app.handler", "python3.13", architecture)}
    files = {
        "app.py": "def handler(event, context):\n    return 1\n",
        path: elf(MACHINES[architecture]),
    }
    assert check(functions, files, {path: mode})["native_files"] == 1


@pytest.mark.parametrize(("path", "mode"), NATIVE)
@pytest.mark.parametrize(("architecture", "other"), [("x86_64", "arm64"), ("arm64", "x86_64")])
def test_a_native_file_of_the_other_architecture_is_refused(
    check: Validate, path: str, mode: int, architecture: str, other: str
) -> None:
    functions = {"app": function("app.handler", "python3.13", architecture)}
    files = {"app.py": "def handler(event, context):\n    return 1\n", path: elf(MACHINES[other])}
    message = (
        f"^{path} is {other} code but the release's functions run on {architecture}; "
        f"build it for {architecture} or leave it out of the release$"
    )
    with pytest.raises(WrongArchitecture, match=message):
        check(functions, files, {path: mode})


@pytest.mark.parametrize(
    ("header", "machine"),
    [
        pytest.param(elf(EM_386), "x86 \\(32-bit\\)", id="i386"),
        pytest.param(elf(EM_ARM), "arm \\(32-bit\\)", id="arm"),
        # Read in the header's own byte order, not as 0x1500.
        pytest.param(elf(EM_PPC64, big_endian=True), "ppc64", id="ppc64-big-endian"),
        pytest.param(elf(4242), "ELF machine 4242", id="unknown"),
    ],
)
@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_a_native_file_no_lambda_function_runs_is_refused(
    check: Validate, header: bytes, machine: str, architecture: str
) -> None:
    functions = {"api": function("index.handler", "nodejs22.x", architecture)}
    files = {"index.js": "exports.handler = 1;\n", "native/addon.node": header}
    with pytest.raises(
        WrongArchitecture,
        match=f"native/addon.node is {machine} code, which no Lambda function runs; "
        f"the release's functions run on {architecture}$",
    ):
        check(functions, files)


def test_a_mixed_architecture_release_takes_native_files_of_either(check: Validate) -> None:
    functions = {
        "api": function("app.handler", "python3.13", "x86_64"),
        "worker": function("app.handler", "python3.13", "arm64"),
    }
    files = {
        "app.py": "def handler(event, context):\n    return 1\n",
        "lib/fast.cpython-313-x86_64-linux-gnu.so": elf(EM_X86_64),
        "lib/fast.cpython-313-aarch64-linux-gnu.so": elf(EM_AARCH64),
    }
    assert check(functions, files)["native_files"] == 2
    with pytest.raises(
        WrongArchitecture,
        match="lib/old.so is arm \\(32-bit\\) code, which no Lambda function runs; the "
        "release's functions run on arm64 or x86_64",
    ):
        check(functions, {**files, "lib/old.so": elf(EM_ARM)})


@pytest.mark.parametrize(
    "path",
    [
        # .NET picks runtimes/<rid>/native/ by the machine (a portable publish has every RID's).
        "runtimes/linux-arm/native/libe_sqlite3.so",
        "runtimes/linux-x64/native/libe_sqlite3.so",
        # node-gyp-build picks prebuilds/<platform>-<arch>/.
        "node_modules/bufferutil/prebuilds/linux-x64/bufferutil.node",
    ],
)
def test_native_files_the_loader_picks_by_platform_are_not_held_to_the_architecture(
    check: Validate, path: str
) -> None:
    functions = {"api": function("MyApp", "dotnet10", "arm64")}
    machine = EM_ARM if "linux-arm/" in path else EM_X86_64
    assert check(functions, {"MyApp.dll": b"MZ", path: elf(machine)})["native_files"] == 1
    # A file directly in such a folder is no platform's.
    with pytest.raises(WrongArchitecture, match="runtimes/libe_sqlite3.so is x86_64 code"):
        check(functions, {"MyApp.dll": b"MZ", "runtimes/libe_sqlite3.so": elf(EM_X86_64)})


@pytest.mark.parametrize(
    ("path", "content"),
    [
        # Only files of a native kind are opened.
        ("assets/model.bin", elf(EM_X86_64)),
        # A .so that is not ELF: a linker script.
        ("lib/libfoo.so", b"/* GNU ld script */\nINPUT(libfoo.so.1)\n"),
        ("bin/run", b"#!/bin/sh\nexec node index.js\n"),
    ],
)
def test_files_that_are_not_native_code_are_not_counted(
    check: Validate, path: str, content: bytes
) -> None:
    functions = {"api": function("index.handler", "nodejs22.x", "arm64")}
    files = {"index.js": "exports.handler = 1;\n", path: content}
    report = check(functions, files, {path: EXECUTABLE if path == "bin/run" else READABLE})
    assert report["native_files"] == 0


# Each function of one release is checked for its own runtime.


def test_functions_of_several_runtimes_share_one_release(check: Validate) -> None:
    functions = {
        "web": function("src/web.handler", "nodejs22.x", "arm64"),
        "jobs": function("jobs.run", "python3.12", "arm64"),
        "report": function("example.Report::handleRequest", "java21", "arm64"),
        "edge": function("bootstrap", "provided.al2023", "arm64"),
    }
    files = {
        "src/web.mjs": "export const handler = async () => 1;\n",
        "jobs.py": "def run(event, context):\n    return 1\n",
        "lib/report.jar": jar({"example/Report.class": CLASS}),
        "bootstrap": elf(EM_AARCH64),
    }
    modes = {"bootstrap": EXECUTABLE}
    report = check(functions, files, modes)
    assert (report["python_files"], report["native_files"]) == (1, 1)
    with pytest.raises(HandlerNotFound, match="src/web.mjs exports no 'handler'"):
        check(functions, {**files, "src/web.mjs": "export const web = 1;\n"}, modes)


# The rehearsal finds a Node.js module as validate does.


@pytest.mark.parametrize(
    ("runtime", "handler", "names", "found"),
    [
        ("nodejs22.x", "src/api.handler", {"src/api.cjs", "src/api.mjs"}, "src/api.mjs"),
        ("nodejs24.x", "index.handler", {"index.js", "index.mjs"}, "index.js"),
        ("python3.12", "pkg.app.handler", {"pkg/app.py"}, "pkg/app.py"),
        ("java25", "a.B::run", {"a/B.class"}, "a/B.class"),
        ("dotnet10", "A::A.B::Run", {"A.dll"}, "A.dll"),
        ("provided.al2023", "anything", {"bootstrap"}, "bootstrap"),
    ],
)
def test_entry_point_is_the_file_lambda_starts_from(
    runtime: str, handler: str, names: set[str], found: str
) -> None:
    assert archive.entry_point(runtime, handler, names) == found


# The functions' runtime and architecture in the handlers' configuration.


TWO_CODES: dict[str, Any] = {
    "api": "app.handler",
    "worker": function("index.handler", "nodejs22.x", "arm64"),
}


def load(document: dict[str, Any]) -> settings.Settings:
    return settings.load(
        {
            "APPLICATION": json.dumps(document),
            "ARTIFACT_BUCKET": "artifacts",
            "TEST_MANIFEST": "release-tests.json",
            "CANDIDATE_FUNCTION": "app-candidate",
        }
    )


def test_a_functions_runtime_and_architecture_are_read_with_their_defaults() -> None:
    document = json.loads(application(TWO_CODES))
    codes = [(f.runtime, f.architecture) for f in load(document).functions]
    assert codes == [("python3.13", "x86_64"), ("nodejs22.x", "arm64")]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            {"runtime": "nodejs18.x"},
            "worker runtime is 'nodejs18.x', which Lambda has deprecated; expected one of "
            "nodejs22.x, nodejs24.x, python3.12",
        ),
        ({"runtime": "ruby3.3"}, "worker runtime is 'ruby3.3'; expected one of nodejs22.x"),
        ({"runtime": ["nodejs22.x"]}, "worker runtime is \"\\['nodejs22.x'\\]\"; expected one of"),
        ({"architecture": "aarch64"}, "worker architecture is 'aarch64'; expected x86_64 or arm64"),
    ],
)
def test_a_malformed_runtime_or_architecture_is_named(code: dict[str, Any], message: str) -> None:
    document = json.loads(application(TWO_CODES))
    document["functions"][1].update(code)
    with pytest.raises(ConfigurationError, match=message):
        load(document)

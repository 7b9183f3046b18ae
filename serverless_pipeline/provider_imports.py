"""Load only the AWS provider bindings a stack uses, in Python and in jsii's Node.js kernel.

`cdktf_cdktf_provider_aws/__init__.py` imports all ~1,500 resource modules, which costs about ten
seconds and hundreds of megabytes on every synth, although each module needs only the package's
`_jsii` assembly loader. `install()` registers the package as a module whose submodules load on
first access (PEP 562), before anything imports it.

The kernel has the same problem on its side: it requires the provider's JavaScript, whose index
requires all resource modules (267 MB, about two seconds). `install()` therefore starts the kernel
with `provider_requires.cjs` preloaded, which makes that one index lazy in the same way. The
option is in `NODE_OPTIONS` only while the kernel starts, so no other Node.js process sees it.

Nothing on disk is patched: the modules that load are the installed ones, byte for byte, so the
synthesized output is identical. A program that imported the package (or started the kernel)
before us keeps the fully loaded one, which works the same.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path

PACKAGE = "cdktf_cdktf_provider_aws"
NODE_HOOK = Path(__file__).with_name("provider_requires.cjs")


def install() -> bool:
    """Register the lazy package; False when the package was already imported (nothing to do)."""
    if PACKAGE in sys.modules:
        return False
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ModuleNotFoundError(f"{PACKAGE} is not installed", name=PACKAGE)
    locations = list(spec.submodule_search_locations)
    names = sorted(
        entry.name
        for location in locations
        for entry in Path(location).iterdir()
        if entry.is_dir() and (entry / "__init__.py").exists() and not entry.name.startswith("_")
    )
    module = types.ModuleType(PACKAGE, f"{PACKAGE}, with submodules loaded on first use.")
    module.__path__ = locations
    module.__file__ = spec.origin
    module.__spec__ = spec
    module.__package__ = PACKAGE
    module.__all__ = names  # type: ignore[attr-defined]
    available = frozenset(names)

    def __getattr__(name: str) -> types.ModuleType:
        if name in available:
            return importlib.import_module(f"{PACKAGE}.{name}")
        raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return names

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__dir__ = __dir__  # type: ignore[method-assign]
    sys.modules[PACKAGE] = module
    _start_kernel_with_lazy_requires()
    return True


def node_options(existing: str | None) -> str:
    """existing NODE_OPTIONS plus a quoted `--require` of the hook (Node reads quoted values)."""
    quoted = str(NODE_HOOK).replace("\\", "\\\\").replace('"', '\\"')
    return " ".join(filter(None, [existing, f'--require "{quoted}"']))


def _start_kernel_with_lazy_requires() -> None:
    """Start jsii's kernel (by importing the first jsii library) with the hook preloaded.

    The kernel is one process per interpreter, started by the first jsii import, so once
    `constructs` is imported there is nothing left to start.
    """
    if "constructs" in sys.modules:
        return
    previous = os.environ.get("NODE_OPTIONS")
    os.environ["NODE_OPTIONS"] = node_options(previous)
    try:
        importlib.import_module("constructs")
    finally:
        if previous is None:
            del os.environ["NODE_OPTIONS"]
        else:
            os.environ["NODE_OPTIONS"] = previous

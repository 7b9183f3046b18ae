"""Load only the AWS provider bindings a stack uses, in Python and in jsii's Node.js kernel.

`cdktf_cdktf_provider_aws/__init__.py` imports all ~1,500 resource modules, which costs about ten
seconds and hundreds of megabytes on every synth, although each module needs only the package's
`_jsii` assembly loader. `install()` registers the package as a module whose submodules load on
first access (PEP 562), before anything imports it.

The kernel has the same problem on its side: it requires the provider's JavaScript, whose index
requires all resource modules (267 MB, about two seconds). `install()` therefore has the kernel
start with `provider_requires.cjs` preloaded, which makes that one index lazy in the same way. The
option is in `NODE_OPTIONS` only while the kernel starts (the first import of `constructs`), so
no other Node.js process sees it, and importing this package starts no kernel by itself.

Nothing on disk is patched: the modules that load are the installed ones, byte for byte, so the
synthesized output is identical. A program that imported the package (or started the kernel)
before us keeps the fully loaded one, which works the same.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Sequence
from pathlib import Path

PACKAGE = "cdktf_cdktf_provider_aws"
NODE_HOOK = Path(__file__).with_name("provider_requires.cjs")


def install() -> bool:
    """Register the lazy package; False when there is nothing to do: the package was already
    imported, or it is not installed (where only the handlers run, with boto3 alone)."""
    if PACKAGE in sys.modules:
        return False
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        return False
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
    """Have jsii's kernel start with the hook preloaded, whenever it starts.

    The kernel is one process per interpreter, started by the first import of `constructs` (the
    jsii library every other one depends on). Nothing is started here: importing the package
    must not cost a Node.js process where only handlers or the emulator are used. A finder
    waits for that first import instead; once `constructs` is imported, there is nothing to do.
    """
    if "constructs" not in sys.modules:
        sys.meta_path.insert(0, _KernelStarter())


class _KernelStarter(importlib.abc.MetaPathFinder):
    """Finds `constructs` once, and loads it with the hook in NODE_OPTIONS."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "constructs":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithNodeHook(spec.loader)
        return spec


class _WithNodeHook(importlib.abc.Loader):
    """A loader that runs another one with the hook in NODE_OPTIONS, then restores it."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        previous = os.environ.get("NODE_OPTIONS")
        os.environ["NODE_OPTIONS"] = node_options(previous)
        try:
            self.loader.exec_module(module)
        finally:
            if previous is None:
                del os.environ["NODE_OPTIONS"]
            else:
                os.environ["NODE_OPTIONS"] = previous

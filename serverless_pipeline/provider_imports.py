"""Load only the AWS provider bindings a stack uses, in Python and in jsii's Node.js kernel.

Both engines' provider packages (cdktf's `cdktf_cdktf_provider_aws`, CDK Terrain's
`cdktn_provider_aws`; see engine.py) hold one module per resource, ~1,500 and ~2,400 of them.

Python: `cdktf_cdktf_provider_aws/__init__.py` imports all of its modules, which costs about ten
seconds and hundreds of megabytes on every synth, although each module needs only the package's
`_jsii` assembly loader. `install()` registers the package as a module whose submodules load on
first access (PEP 562), before anything imports it. `cdktn_provider_aws/__init__.py` already
loads its modules that way, so it is left as it is.

Node.js: the kernel has the same problem on both sides: it requires the provider's JavaScript,
whose index requires all resource modules (267 MB, about two seconds; three for cdktn).
`install()` therefore has the kernel start with `provider_requires.cjs` preloaded, which makes
that one index lazy in the same way, for either package. The option is in `NODE_OPTIONS` only
while the kernel starts (the first import of `constructs`), so no other Node.js process sees
it, and importing this package starts no kernel by itself.

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

# The provider package whose __init__ imports every resource module.
EAGER_PACKAGE = "cdktf_cdktf_provider_aws"
# Every provider package the Node.js hook serves (both engines').
PACKAGES = (EAGER_PACKAGE, "cdktn_provider_aws")
NODE_HOOK = Path(__file__).with_name("provider_requires.cjs")


def install() -> bool:
    """Make the installed provider packages load lazily; False when there is nothing to do:
    done before, the packages were already imported, or none is installed (where only the
    handlers run, with boto3 alone)."""
    if not any(importlib.util.find_spec(package) for package in PACKAGES):
        return False
    registered = _register_lazy_package(EAGER_PACKAGE)
    return _start_kernel_with_lazy_requires() or registered


def _register_lazy_package(package: str) -> bool:
    """Register `package` as a module whose submodules load on first access; False when it was
    imported already or is not installed."""
    if package in sys.modules:
        return False
    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        return False
    locations = list(spec.submodule_search_locations)
    names = sorted(
        entry.name
        for location in locations
        for entry in Path(location).iterdir()
        if entry.is_dir() and (entry / "__init__.py").exists() and not entry.name.startswith("_")
    )
    module = types.ModuleType(package, f"{package}, with submodules loaded on first use.")
    module.__path__ = locations
    module.__file__ = spec.origin
    module.__spec__ = spec
    module.__package__ = package
    module.__all__ = names  # type: ignore[attr-defined]
    available = frozenset(names)

    def __getattr__(name: str) -> types.ModuleType:
        if name in available:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return names

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__dir__ = __dir__  # type: ignore[method-assign]
    sys.modules[package] = module
    return True


def node_options(existing: str | None) -> str:
    """existing NODE_OPTIONS plus a quoted `--require` of the hook (Node reads quoted values)."""
    quoted = str(NODE_HOOK).replace("\\", "\\\\").replace('"', '\\"')
    return " ".join(filter(None, [existing, f'--require "{quoted}"']))


def _start_kernel_with_lazy_requires() -> bool:
    """Have jsii's kernel start with the hook preloaded, whenever it starts; False when there is
    nothing to do.

    The kernel is one process per interpreter, started by the first import of `constructs` (the
    jsii library every other one depends on). Nothing is started here: importing the package
    must not cost a Node.js process where only handlers or the emulator are used. A finder
    waits for that first import instead; once `constructs` is imported, or while a finder
    waits, there is nothing to do.
    """
    if "constructs" in sys.modules or any(isinstance(f, _KernelStarter) for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, _KernelStarter())
    return True


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

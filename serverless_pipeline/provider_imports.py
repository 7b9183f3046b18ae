"""Load only the AWS provider bindings a stack uses.

`cdktf_cdktf_provider_aws/__init__.py` imports all ~1,500 resource modules, which costs about ten
seconds and hundreds of megabytes on every synth, although each module needs only the package's
`_jsii` assembly loader. `install()` registers the package as a module whose submodules load on
first access (PEP 562), before anything imports it. Nothing on disk is patched: the modules that
load are the installed ones, byte for byte, so the synthesized output is identical. A program
that imported the package before us keeps the fully loaded one, which works the same.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

PACKAGE = "cdktf_cdktf_provider_aws"


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
    return True

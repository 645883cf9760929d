"""Importing only the parts of pm4py that discovery runs, for a short-lived process.

``import pm4py`` (or of any of its modules) first runs the package's
``__init__`` files, which import nearly all of pm4py: about 1,100 modules,
scipy's optimisers, the XES and OCEL machinery, 2 to 4 seconds before
anything is computed. Discovery needs about 140 of them. ``import_parts``
imports pm4py's packages without running their ``__init__`` files, so each
module brings only what it imports itself; the modules are pm4py's own, so
the results are the same (tests/test_discovery_files.py runs the command in a
fresh process and compares its files with those of the fully imported pm4py).

The top-level functions (``pm4py.discover_petri_net_inductive`` and the like)
live in those ``__init__`` files: discovery uses pm4py's modules directly,
and a package's ``__init__`` runs the first time one of its own names is
used, so other code in the same process (a test run, a library user) still
finds the whole of pm4py. ``import_parts`` does nothing when pm4py is
already imported; only ``cxmine discover`` asks for it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

PACKAGE = "pm4py"


def _is_submodule(module, name: str) -> bool:
    return any((Path(folder) / name).is_dir() or (Path(folder) / f"{name}.py").is_file()
               for folder in module.__path__)


def _completing_getattr(module):
    """A module ``__getattr__`` that runs the package's own ``__init__`` the first time a name it defines is asked
    for (``pm4py.read_pnml``, ``pm4py.__version__``), so code that wants the whole package still gets it; names
    of submodules are left to the import system, which imports them as usual."""
    def __getattr__(name: str):
        done = module.__dict__.get("_init_done")
        if done or _is_submodule(module, name) or (name.startswith("__") and name != "__version__"):
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
        module._init_done = True
        with open(module.__file__, "rb") as fh:
            exec(compile(fh.read(), module.__file__, "exec"), module.__dict__)
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}") from None
    return __getattr__


class _PackageLoader(importlib.abc.Loader):
    """Makes a pm4py package module with its search path; its ``__init__`` runs only if a name it defines is used."""

    def __init__(self, spec: importlib.machinery.ModuleSpec) -> None:
        self.found = spec

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        module.__path__ = list(self.found.submodule_search_locations)
        module.__file__ = self.found.origin
        module.__getattr__ = _completing_getattr(module)


class _PackageFinder(importlib.abc.MetaPathFinder):
    """Finds pm4py's packages (not its plain modules) and hands them to ``_PackageLoader``."""

    def find_spec(self, name, path, target=None):
        if name != PACKAGE and not name.startswith(PACKAGE + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.submodule_search_locations is None:
            return None
        return importlib.util.spec_from_loader(name, _PackageLoader(spec), is_package=True)


def import_parts() -> bool:
    """From now on, import pm4py's packages without their ``__init__`` files; False if pm4py is already in."""
    if PACKAGE in sys.modules or any(isinstance(f, _PackageFinder) for f in sys.meta_path):
        return False
    if importlib.util.find_spec(PACKAGE) is None:
        return False
    sys.meta_path.insert(0, _PackageFinder())
    return True

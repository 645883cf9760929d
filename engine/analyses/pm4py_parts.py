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
live in those ``__init__`` files, so a process that imports pm4py this way
must use its modules directly. ``import_parts`` does nothing when pm4py is
already imported, and nothing outside a command that ends with the process
(``cxmine discover``) asks for it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys

PACKAGE = "pm4py"


class _PackageLoader(importlib.abc.Loader):
    """Makes a pm4py package module with its search path, without running its ``__init__``."""

    def __init__(self, spec: importlib.machinery.ModuleSpec) -> None:
        self.found = spec

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        module.__path__ = list(self.found.submodule_search_locations)
        module.__file__ = self.found.origin


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

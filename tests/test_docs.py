"""Every module's doctests run here (as sqlglot's tests/test_docs.py does), so the examples in
docstrings stay true: one test per module that has any."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("evaluation", "synth", "train")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}.")]
    return sorted(names)


def _with_doctests() -> list[str]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        if any(t.examples for t in finder.find(module, name)):
            found.append(name)
    return found


MODULES = _with_doctests()


def test_doctests_are_collected():
    # a guard against a finder that silently finds nothing (then every test below would vanish)
    assert len(MODULES) >= 10, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctests in {name} failed (see output above)"

"""Every docstring example of the installed package runs and prints what it shows.

The examples are collected from the modules as ``coupling.*`` imports them (the package-dir
mapping puts the folders under one name), so a doctest runs against the same module objects
as the library, never a second copy loaded from the file path."""

import doctest
import importlib
import pkgutil

import pytest

#: Subpackages whose modules load torch or transformers are included: those are extras the
#: test command installs.
_PACKAGES = ("simulate", "proofs", "decoding", "paper_repro", "figures", "reports", "outputs")


def _modules():
    yield "coupling"
    for name in _PACKAGES:
        package = importlib.import_module(f"coupling.{name}")
        yield package.__name__
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            yield info.name


MODULES = sorted(set(_modules()))
WITH_EXAMPLES = []
for _name in MODULES:
    _tests = doctest.DocTestFinder(exclude_empty=True).find(importlib.import_module(_name))
    if any(t.examples for t in _tests):
        WITH_EXAMPLES.append(_name)


def test_the_examples_are_found():
    assert "coupling" in WITH_EXAMPLES
    assert "coupling.simulate.randomness" in WITH_EXAMPLES
    assert len(WITH_EXAMPLES) >= 12


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder(exclude_empty=True).find(module):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"

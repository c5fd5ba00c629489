"""The repository's folders and the packages they install as, read from pyproject.toml's
``package-dir`` (the one place that says it)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
#: folder -> dotted package name, e.g. "simulate" -> "coupling.simulate".
FOLDERS = {folder: package for package, folder in _SETUPTOOLS["package-dir"].items()}
#: Every package the wheel installs (subpackages included).
PACKAGES = tuple(_SETUPTOOLS["packages"])

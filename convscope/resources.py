"""Where the package data lives: pages, static files, the shipped models and samples.

Everything is looked up through :mod:`importlib.resources`, so the same code finds the files in an
editable checkout, an installed wheel or a pipx venv, whatever the working directory.  The data
folders are regular packages (each holds a one-line ``__init__.py``) because setuptools' editable
installs only map packages.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DATA_PACKAGES = ("static", "templates", "models")


def data_path(package: str, *parts: str) -> Path:
    """A real filesystem path to ``convscope.<package>/<parts…>`` (``package`` in DATA_PACKAGES).

    Wheels install unzipped, so the traversable is always a plain directory; refuse anything else
    loudly rather than hand Flask a path that does not exist."""
    if package not in DATA_PACKAGES:
        raise ValueError(f"unknown data package {package!r}; expected one of {DATA_PACKAGES}")
    root = Path(str(files(f"convscope.{package}")))
    if not root.is_dir():
        raise FileNotFoundError(f"convscope.{package} is not a directory on disk: {root}")
    return root.joinpath(*parts)

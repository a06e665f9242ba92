"""The package's version, with one home: pyproject.toml (read through the installed metadata)."""

from __future__ import annotations


def package_version() -> str:
    """pand_core's installed version (the package metadata, from pyproject.toml); "unknown" when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pand_core")
    except PackageNotFoundError:
        return "unknown"

"""Data catalogs: package managers (package_managers.json, loaded by packages.py) and base images."""

from __future__ import annotations

from dockeropt.catalog.packages import (
    CacheDir,
    Catalog,
    Invocation,
    Manager,
    catalog,
    expand_path,
)

__all__ = ["CacheDir", "Catalog", "Invocation", "Manager", "catalog", "expand_path"]

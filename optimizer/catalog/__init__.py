"""Data about the tools Dockerfiles run: package managers (package_managers.json) and their loader."""

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

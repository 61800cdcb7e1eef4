"""Ecosystem knowledge: what a toolchain image is, what a build leaves behind, what a runtime needs.

Data lives in ``catalog/ecosystems.json`` (per ecosystem: toolchain images,
dependency folders, launchers, native packages, static servers) and
``catalog/images.json`` (system packages: ``-dev`` -> runtime library per
distro, build-only packages, the packages that bring a command, the runtime
bases of compiled ecosystems). This module only reads it; it knows no
package, image or tool by name.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from dockeropt.catalog.images import ImageInfo, distroless_for


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files("dockeropt.catalog").joinpath(name).read_text(encoding="utf-8"))


def spec(ecosystem: str) -> dict[str, Any]:
    """The catalog entry of ``ecosystem`` ({} when unknown)."""
    return _load("ecosystems.json")["ecosystems"].get(ecosystem, {})


@cache
def package_name(ecosystem: str = "python") -> str:
    """The regular expression (no anchors, no groups) of a package name of ``ecosystem``: ``package_name_regex``.

    Python's is a distribution name as requirement files, pyproject.toml and Pipfiles write it (PEP 508).
    """
    return str(spec(ecosystem)["package_name_regex"])


def manifest_stages() -> dict[str, Any]:
    """How DO113 cuts dependency manifests down to what an install reads (``ecosystems.json`` ``manifest_stages``)."""
    return dict(_load("ecosystems.json")["manifest_stages"])


def names() -> list[str]:
    return list(_load("ecosystems.json")["ecosystems"])


@cache
def ecosystem_of_family(family: str | None) -> str | None:
    """The ecosystem whose toolchain images form ``family`` (node -> node, golang -> go, eclipse-temurin -> java)."""
    if family is None:
        return None
    for eco, s in _load("ecosystems.json")["ecosystems"].items():
        if family in s.get("image_families", ()):
            return eco
    return None


def ecosystem_of_tool(tool: str) -> str | None:
    """The ecosystem a build tool of tools.json belongs to (javac -> java)."""
    for eco, s in _load("ecosystems.json")["ecosystems"].items():
        if tool in s.get("build_tools", ()):
            return eco
    return None


def is_toolchain(info: ImageInfo | None) -> bool:
    """Is the image a build toolchain of its ecosystem (a full node/python/golang image, a JDK, the .NET SDK)?"""
    if info is None:
        return False
    eco = ecosystem_of_family(info.family)
    if eco is None:
        return False
    rule = spec(eco).get("toolchain", {})
    if rule.get("full") and info.is_full:
        return True
    if rule.get("slim") and info.variant == "slim":
        return True
    return info.flavor is not None and info.flavor in rule.get("flavors", ())


def build_only_env(ecosystem: str) -> frozenset[str]:
    return frozenset(spec(ecosystem).get("build_only_env", ()))


def dependency_folders(ecosystem: str) -> tuple[str, ...]:
    return tuple(spec(ecosystem).get("dependency_folders", ()))


# --------------------------------------------------------------------------- system packages


def _pm_key(package_manager: str | None) -> str:
    return "apk" if package_manager == "apk" else "deb"


def runtime_libraries(package: str, package_manager: str | None, distro: str | None) -> tuple[str, ...] | None:
    """What a runtime stage installs for a package a build installed.

    ``libpq-dev`` -> ``("libpq5",)`` (apt), ``postgresql-dev`` -> ``("libpq",)`` (apk);
    ``()`` for build-only packages (compilers, headers); ``(package,)`` for a
    package that is neither a ``-dev`` package nor build-only (curl, tzdata);
    None for a ``-dev`` package whose runtime library the catalog does not know.
    """
    pkg = package.strip().split("=", 1)[0].split(":", 1)[0]
    data = _load("images.json")
    if pkg in data["build_only_packages"]:
        return ()
    tables: dict[str, dict[str, str | None]] = data["dev_to_runtime"]
    order = ["alpine"] if _pm_key(package_manager) == "apk" else [distro or "bookworm", "bookworm"]
    for d in order:
        table = tables.get(d, {})
        if pkg in table:
            value = table[pkg]
            return tuple(value.split()) if value else ()
    if pkg.endswith("-dev") or pkg.endswith("-devel"):
        return None
    return (pkg,)


def is_build_only(package: str) -> bool:
    pkg = package.strip().split("=", 1)[0].split(":", 1)[0]
    return pkg in _load("images.json")["build_only_packages"] or pkg.endswith(("-dev", "-devel"))


def tool_packages(tool: str, package_manager: str | None) -> tuple[str, ...] | None:
    """The packages that bring ``tool`` (curl -> curl, ca-certificates); None when the catalog does not know it."""
    entry = _load("images.json")["tool_packages"].get(tool)
    if entry is None:
        return None
    return tuple(entry.get(_pm_key(package_manager), ()))


def package_tools(package: str) -> tuple[str, ...]:
    """The commands a system package provides (build-essential -> gcc, make, ...); the package name itself otherwise."""
    pkg = package.strip().split("=", 1)[0]
    return tuple(_load("images.json")["package_tools"].get(pkg, (pkg,)))


def compiled_runtime(family: str, kind: str, distro: str | None, nonroot: bool = False) -> str | None:
    """The runtime base of a compiled ecosystem: ``kind`` static | glibc | cxx (distroless) or shell (Debian slim)."""
    table = _load("images.json")["runtime_bases"].get(family)
    if table is None:
        return None
    if kind == "shell":
        return str(table["shell"]).format(distro=distro or "bookworm")
    return distroless_for(table[kind], None, nonroot)


def shell_runtime_packages(family: str) -> tuple[str, ...]:
    table = _load("images.json")["runtime_bases"].get(family) or {}
    return tuple(table.get("shell_packages", ()))


def patterns(ecosystem: str, key: str) -> list[re.Pattern[str]]:
    return _compiled(ecosystem, key)


@cache
def _compiled(ecosystem: str, key: str) -> list[re.Pattern[str]]:
    return [re.compile(p, re.M) for p in spec(ecosystem).get(key, ())]


__all__ = [
    "build_only_env", "compiled_runtime", "context_rules", "dependency_folders", "ecosystem_of_family", "ecosystem_of_tool",
    "is_build_only", "is_toolchain", "names", "package_tools", "patterns", "runtime_libraries",
    "shell_runtime_packages", "spec", "tool_packages",
]


def context_rules() -> dict[str, Any]:
    """What a build context copied whole should keep out (VCS, Docker files, docs, tests, token files): ``ecosystems.json`` ``context``."""
    return dict(_load("ecosystems.json")["context"])

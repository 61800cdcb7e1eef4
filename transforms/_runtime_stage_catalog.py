"""Base-image facts DO201 needs, read from ``dockeropt.catalog.images`` when it is there.

The catalog module is written separately; this wrapper asks it first and
falls back to a small built-in table for the families DO201 handles, so the
pass works (conservatively) with either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

try:  # pragma: no cover - depends on the catalog being installed
    from dockeropt.catalog import images as _cat  # type: ignore[attr-defined]
except Exception:  # noqa: BLE001
    _cat = None


@dataclass(frozen=True)
class Base:
    ref: str  # as written
    repo: str  # "node", "python", "golang", "eclipse-temurin", ...
    family: str  # node | python | golang | java | rust | debian | distroless | scratch | other
    version: str | None  # "18", "3.11", "1.19", "17"
    variant: str | None  # "slim", "alpine", "jdk", "jre", ...
    full: bool  # a full toolchain image (not slim/alpine/jre/distroless)


_REF = re.compile(r"^(?:(?P<registry>[^/]+\.[^/]+|localhost(?::\d+)?)/)?(?P<repo>[a-z0-9._/-]+)(?::(?P<tag>[\w.-]+))?(?:@(?P<digest>\S+))?$")
_JAVA_REPOS = {"eclipse-temurin", "openjdk", "amazoncorretto", "maven", "gradle"}
_DISTRO_CODENAMES = {"bookworm", "bullseye", "buster", "trixie", "stretch", "jammy", "focal", "noble"}


def _family(repo: str) -> str:
    last = repo.rsplit("/", 1)[-1]
    if repo.startswith("distroless/") or "/distroless/" in repo or repo.endswith("distroless"):
        return "distroless"
    if last in ("node",):
        return "node"
    if last in ("python", "pypy"):
        return "python"
    if last in ("golang",):
        return "golang"
    if last in _JAVA_REPOS:
        return "java"
    if last == "rust":
        return "rust"
    if last in ("debian", "ubuntu"):
        return "debian"
    if last == "scratch":
        return "scratch"
    return "other"


def parse_base(ref: str) -> Base | None:
    """Family, version and variant of an image reference; None when it has variables or is odd."""
    if "$" in ref or not ref:
        return None
    if ref == "scratch":
        return Base(ref, "scratch", "scratch", None, None, False)
    m = _REF.match(ref)
    if not m:
        return None
    repo = m.group("repo")
    if repo.startswith("library/"):
        repo = repo[len("library/"):]
    registry = m.group("registry")
    if registry and "distroless" in repo:
        repo = "distroless/" + repo.split("distroless/", 1)[-1]
    tag = m.group("tag") or "latest"
    family = _family(repo)
    parts = tag.split("-")
    version: str | None = parts[0] if parts and re.match(r"^\d", parts[0]) else None
    rest = parts[1:] if version else parts
    rest = [p for p in rest if p not in _DISTRO_CODENAMES]
    variant = "-".join(rest) if rest and rest != ["latest"] else None
    if family == "java":
        if repo in ("maven", "gradle"):
            # maven:3.9-eclipse-temurin-17 → the JDK version is the last number
            nums = re.findall(r"(?:temurin|jdk|openjdk|corretto)-?(\d+)", tag)
            version = nums[-1] if nums else None
            variant = "jdk"
        elif variant is None:
            variant = "jdk"
    full = family in ("node", "python", "golang", "java", "rust") and (
        variant is None or variant in ("jdk", "jdk-jammy", "jdk-focal", "jdk-noble", "jdk-bookworm", "jdk-bullseye")
    )
    if family == "java" and variant and variant.startswith("jre"):
        full = False
    if _cat is not None and family != "java":
        full = _cat_full(ref, full)
    return Base(ref, repo, family, version, variant, full)


def _cat_full(ref: str, default: bool) -> bool:
    try:
        info: Any = _cat.lookup(ref)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001
        return default
    if info is None:
        return default
    val = getattr(info, "is_full", None)
    return bool(val) if isinstance(val, bool) else default


def _cat_call(name: str, *args: Any) -> Any:
    if _cat is None:
        return None
    fn = getattr(_cat, name, None)
    if fn is None:
        return None
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001
        return None


def slim_ref(base: Base) -> str | None:
    """The slim Debian variant of a full node/python/rust image (same version)."""
    got = _cat_call("slim_variant", base.ref)
    if isinstance(got, str) and got and "alpine" not in got:
        return got
    if base.family not in ("node", "python", "rust") or base.repo not in ("node", "python", "rust"):
        return None
    m = _REF.match(base.ref)
    assert m is not None
    tag = m.group("tag") or "latest"
    prefix = base.ref[: base.ref.rfind(":")] if m.group("tag") else base.ref
    if tag == "latest":
        return f"{prefix}:slim"
    codename = next((p for p in tag.split("-") if p in _DISTRO_CODENAMES), None)
    if codename:
        return f"{prefix}:{tag.replace(codename, 'slim-' + codename)}" if "slim" not in tag else None
    return f"{prefix}:{tag}-slim"


_DISTROLESS = "gcr.io/distroless"


def distroless_ref(kind: str, version: str | None = None, nonroot: bool = False) -> str | None:
    """gcr.io/distroless/<kind>-debian12 (static, base, cc, nodejsNN, java17/21)."""
    got = _cat_call("distroless_for", kind, version, nonroot)
    if isinstance(got, str) and got:
        return got
    name: str | None
    if kind in ("static", "base", "cc"):
        name = kind
    elif kind in ("node", "nodejs") and version in ("18", "20", "22"):
        name = f"nodejs{version}"
    elif kind == "java" and version in ("17", "21"):
        name = f"java{version}"
    else:
        name = None
    if name is None:
        return None
    return f"{_DISTROLESS}/{name}-debian12" + (":nonroot" if nonroot else "")


def jre_ref(base: Base) -> str | None:
    """The JRE image for a JDK image of the same Java version."""
    got = _cat_call("jre_for", base.ref)
    if isinstance(got, str) and got:
        return got
    if base.version and base.version.isdigit() and int(base.version) >= 11:
        return f"eclipse-temurin:{base.version}-jre"
    return None


# -dev build packages → the runtime library packages (Debian bookworm names)
_RUNTIME_PKG = {
    "libpq-dev": "libpq5",
    "libjpeg-dev": "libjpeg62-turbo",
    "libjpeg62-turbo-dev": "libjpeg62-turbo",
    "libxml2-dev": "libxml2",
    "libxslt1-dev": "libxslt1.1",
    "libxslt-dev": "libxslt1.1",
    "libffi-dev": "libffi8",
    "libssl-dev": "libssl3",
    "libpng-dev": "libpng16-16",
    "zlib1g-dev": "zlib1g",
    "libmariadb-dev": "libmariadb3",
    "libmariadb-dev-compat": "libmariadb3",
    "default-libmysqlclient-dev": "libmariadb3",
    "libsqlite3-dev": "libsqlite3-0",
    "libyaml-dev": "libyaml-0-2",
    "libcurl4-openssl-dev": "libcurl4",
    "libgeos-dev": "libgeos-c1v5",
    "libgdal-dev": "gdal-bin",
    "libmagic-dev": "libmagic1",
    "libldap2-dev": "libldap-2.5-0",
    "libsasl2-dev": "libsasl2-2",
    "libwebp-dev": "libwebp7",
    "libtiff-dev": "libtiff6",
    "libfreetype6-dev": "libfreetype6",
    "liblcms2-dev": "liblcms2-2",
    "libopenjp2-7-dev": "libopenjp2-7",
    "libzstd-dev": "libzstd1",
    "liblzma-dev": "liblzma5",
    "libbz2-dev": "libbz2-1.0",
    "libsnappy-dev": "libsnappy1v5",
    "libgmp-dev": "libgmp10",
}


def runtime_package(dev_pkg: str) -> str | None:
    """The runtime library package of a ``-dev`` package, None when unknown."""
    got = _cat_call("runtime_package_for", dev_pkg)
    if isinstance(got, str) and got:
        return got
    if isinstance(got, (list, tuple)) and got and all(isinstance(g, str) for g in got):
        return " ".join(got)
    return _RUNTIME_PKG.get(dev_pkg)


# packages whose only purpose is building: they never go to the runtime stage
BUILD_ONLY_PKGS = frozenset({
    "build-essential", "gcc", "g++", "make", "cmake", "autoconf", "automake", "libtool", "pkg-config",
    "pkgconf", "git", "python3-dev", "python-dev", "cython3", "gfortran", "clang", "llvm", "binutils",
    "musl-tools", "protobuf-compiler", "swig", "patch", "dpkg-dev", "bison", "flex", "ninja-build",
    "meson", "nasm", "yasm",
})

# tools the full Debian-based language images have and their slim variants lack
_MISSING_IN_SLIM = frozenset({
    "curl", "wget", "git", "gcc", "g++", "make", "ssh", "scp", "unzip", "zip", "bzip2", "xz",
    "file", "procps", "ps", "jq", "netcat", "nc", "ping", "openssl", "gpg", "less", "vim", "nano",
    "patch", "pkg-config", "svn", "hg", "mercurial",
})
TOOL_PACKAGE = {
    "curl": "curl", "wget": "wget", "git": "git", "ssh": "openssh-client", "scp": "openssh-client",
    "unzip": "unzip", "zip": "zip", "bzip2": "bzip2", "xz": "xz-utils", "file": "file", "ps": "procps",
    "procps": "procps", "jq": "jq", "nc": "netcat-openbsd", "netcat": "netcat-openbsd", "openssl": "openssl",
    "gpg": "gnupg", "less": "less", "ping": "iputils-ping",
}


def missing_in_slim(family: str) -> frozenset[str]:
    got = _cat_call("tools_missing_in_slim", family)
    if isinstance(got, (set, frozenset, list, tuple)) and got:
        return frozenset(str(g) for g in got) | _MISSING_IN_SLIM
    return _MISSING_IN_SLIM


def default_workdir(base: Base) -> str:
    """The base image's own WORKDIR."""
    if base.family == "golang":
        return "/go"
    return "/"

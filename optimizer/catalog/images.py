"""Base-image catalog: what an official base image is, and its smaller relatives.

The facts live in ``images.json`` beside this module; this module parses image
references and tags and answers questions about them:

* :func:`parse_image` splits ``[registry/]repository[:tag][@digest]``;
* :func:`lookup` tells what a base is (family, version, variant, distro, libc,
  package manager, shell, users, full toolchain or not);
* :func:`slim_variant`, :func:`jre_for` and :func:`distroless_for` name smaller
  images that keep the same version, libc and package manager;
* :func:`tools_missing_in_slim` lists the commands a full image has that its
  slim variant lacks;
* :func:`runtime_package_for` maps an apt ``-dev`` build package to the
  runtime library package it links against;
* :func:`current_version_tag` is the tag of a family's current release (from ``pins.json``).

Conventions for :class:`ImageInfo`:

* ``variant`` is the size/flavour class of the tag: ``None`` for the family's
  default full image (``node:18``, ``node:18-bookworm``, ``python:3.11``),
  ``"slim"``, ``"alpine"``, ``"alpine-slim"`` (nginx), ``"chiseled"``
  (.NET), ``"jdk"``/``"jre"``/``"headless"`` (Java images that are neither slim
  nor alpine) and the distroless kind (``"static"``, ``"base"``, ``"cc"``,
  ``"python3"``, ``"nodejs"``, ``"java"``) for distroless images. A distro
  codename alone (``-bookworm``) is not a variant: it goes to ``distro``.
* ``flavor`` holds the second axis some families have: ``"jdk"``/``"jre"``
  for Java, ``"cli"``/``"fpm"``/``"apache"`` for PHP, ``"sdk"``/``"aspnet"``/
  ``"runtime"``/``"runtime-deps"`` for .NET.
* ``version`` is the version as written (``"18"``, ``"3.11.4"``, ``"1.19"``),
  resolved through codename aliases (``node:hydrogen`` → ``"18"``,
  ``debian:bookworm`` → ``"12"``); ``None`` for floating tags such as
  ``latest``, ``lts``, ``current``, ``stable``.
* ``users`` lists only users known to exist in the image; a pass must never
  reference a user that is not listed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from dockeropt.catalog import pins

__all__ = [
    "ImageInfo",
    "ImageRef",
    "current_version_tag",
    "distroless_for",
    "family_of",
    "is_build_only_package",
    "jre_for",
    "lookup",
    "parse_image",
    "runtime_package_for",
    "slim_variant",
    "tools_missing_in_slim",
]


@cache
def _data() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("images.json").read_text(encoding="utf-8")
    return json.loads(text)


# --------------------------------------------------------------------------- references

_DOCKER_HUB = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True)
class ImageRef:
    """An image reference as written: ``[registry/]repository[:tag][@digest]``."""

    registry: str | None
    repository: str
    tag: str | None
    digest: str | None

    def with_tag(self, tag: str) -> ImageRef:
        """The same repository with another tag. The digest is dropped: it pinned the old tag's image."""
        return replace(self, tag=tag, digest=None)

    def with_repository(self, repository: str) -> ImageRef:
        return replace(self, repository=repository, digest=None)

    @property
    def name(self) -> str:
        """``[registry/]repository`` as written."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    def __str__(self) -> str:
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out


_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/:]*(@[A-Za-z0-9_+.\-]+:[A-Fa-f0-9]+)?$")


def parse_image(ref: str) -> ImageRef | None:
    """Parse an image reference; ``None`` for ``scratch``, variables (``$X``) and malformed text."""
    ref = ref.strip()
    if not ref or "$" in ref or ref.lower() == "scratch" or not _REF.match(ref):
        return None
    digest: str | None = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    registry: str | None = None
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, ref = first, rest
    tag: str | None = None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1 :]
        if not tag:
            return None
    if not ref or ref.endswith("/") or "//" in ref or ":" in ref:
        return None
    return ImageRef(registry, ref, tag, digest)


# --------------------------------------------------------------------------- image facts


@dataclass(frozen=True)
class ImageInfo:
    """What the catalog knows about one base image (see the module docstring for conventions)."""

    family: str
    version: str | None
    variant: str | None
    distro: str | None
    libc: str | None  # "glibc" | "musl" | None (static, no libc)
    package_manager: str | None  # "apt" | "apk" | "dnf" | "microdnf" | "yum" | None
    has_shell: bool
    default_user: str | None
    users: dict[str, int]
    is_full: bool  # full image with a toolchain (gcc, git, curl, ...)
    flavor: str | None = None
    repository: str = ""  # canonical repository, e.g. "node", "dotnet/sdk", "distroless/nodejs18-debian12"
    tag: str = "latest"
    tag_understood: bool = True  # False: the tag has parts the catalog does not know; do not derive tags from it
    os: str | None = None  # "debian" | "ubuntu" | "alpine" | "oraclelinux" | "amazonlinux" | "ubi" | None

    @property
    def is_slim(self) -> bool:
        """Already a small base (slim, alpine, distroless, chiseled, or a plain OS image)?"""
        return not self.is_full

    @property
    def is_distroless(self) -> bool:
        return self.family == "distroless"

    @property
    def major(self) -> str | None:
        return _major(self.version)


_DEBIAN_CODENAMES = ("buster", "bullseye", "bookworm", "trixie", "sid", "stretch")
_UBUNTU_CODENAMES = ("bionic", "focal", "jammy", "noble")
_FLOATING = frozenset({"latest", "lts", "current", "stable", "mainline", "edge", "rolling", "oldstable", "testing"})
_VERSION = re.compile(r"^v?\d+(\.\d+)*([._+][0-9A-Za-z]+)*$")
_ALPINE = re.compile(r"^alpine(\d+\.\d+)?$")
_WINDOWS = re.compile(r"^(windowsservercore|nanoserver|ltsc\d+|\d{4}|servercore)$")
_DATE = re.compile(r"^\d{8}(\.\d+)?$")


def _major(version: str | None) -> str | None:
    if not version:
        return None
    m = re.match(r"^v?(\d+)", version)
    return m.group(1) if m else None


def _family_spec(family: str) -> dict[str, Any] | None:
    return _data()["families"].get(family)


def family_of(ref: str | ImageRef) -> tuple[str, str] | None:
    """(family, canonical repository) of an official image reference, or None."""
    r = parse_image(ref) if isinstance(ref, str) else ref
    if r is None:
        return None
    path = r.repository.lower()
    reg = (r.registry or "").lower()
    if reg == "gcr.io" and path.startswith("distroless/"):
        return "distroless", path
    if reg == "mcr.microsoft.com":
        if path in _data()["families"]["dotnet"]["repositories"]:
            return "dotnet", path
        return None
    if not reg or reg in _DOCKER_HUB:
        if path.startswith("library/"):
            path = path[len("library/") :]
    elif path.startswith("library/"):
        path = path[len("library/") :]  # a mirror of Docker Hub's official images
    elif path.startswith("docker/library/"):
        path = path[len("docker/library/") :]
    else:
        return None
    if "/" in path:
        return None
    for fam, spec in _data()["families"].items():
        if path in spec["repositories"]:
            return fam, path
    return None


@dataclass
class _Tag:
    tokens: list[str]
    version: str | None = None
    version_index: int | None = None
    distro: str | None = None
    distro_index: int | None = None
    slim: bool = False
    alpine: str | None = None  # "alpine" or "alpine3.19"
    java: str | None = None  # "jdk" | "jre" | "headless"
    flavor: str | None = None
    chiseled: bool = False
    windows: bool = False
    unknown: list[str] = field(default_factory=list)


_MULTI = {("ubi9", "minimal"): "ubi9-minimal", ("ubi8", "minimal"): "ubi8-minimal"}


def _parse_tag(family: str, tag: str) -> _Tag:
    raw = tag.split("-")
    tokens: list[str] = []
    i = 0
    while i < len(raw):
        pair = tuple(raw[i : i + 2])
        if pair in _MULTI:
            tokens.append(_MULTI[pair])  # type: ignore[index]
            i += 2
        else:
            tokens.append(raw[i])
            i += 1
    spec = _family_spec(family) or {}
    aliases: dict[str, str] = spec.get("aliases", {})
    flavors = set(spec.get("flavors", []))
    t = _Tag(tokens)
    for idx, tok in enumerate(tokens):
        low = tok.lower()
        if idx == 0 and (low in _FLOATING or low in aliases) and family not in ("debian", "ubuntu"):
            t.version = None if low in _FLOATING else aliases[low]
            t.version_index = idx
        elif low in _DEBIAN_CODENAMES or low in _UBUNTU_CODENAMES:
            t.distro, t.distro_index = low, idx
        elif _ALPINE.match(low):
            t.alpine, t.distro, t.distro_index = low, low, idx
        elif low in ("al2", "al2023", "oraclelinux7", "oraclelinux8", "oraclelinux9", "ubi9-minimal", "ubi8-minimal"):
            t.distro, t.distro_index = low, idx
        elif low == "slim":
            t.slim = True
        elif low in ("jdk", "jre", "headless") and family in ("eclipse-temurin", "openjdk", "amazoncorretto"):
            t.java = low
        elif low in flavors:
            t.flavor = low
        elif low == "chiseled" and family == "dotnet":
            t.chiseled = True
        elif _WINDOWS.match(low):
            t.windows = True
        elif idx == 0 and _VERSION.match(low):
            t.version, t.version_index = tok, idx
        elif idx == 0 and family in ("debian", "ubuntu") and (low in _FLOATING or low in aliases):
            t.version_index = idx
        elif _DATE.match(low) and idx > 0:
            pass  # snapshot date (debian:bookworm-20240110)
        elif low in ("perl", "otel", "extra", "composite") and family in ("nginx", "dotnet"):
            pass  # feature add-ons of the same base
        else:
            t.unknown.append(tok)
    return t


def _debian_users() -> dict[str, int]:
    return dict(_data()["debian_users"])


def _alpine_users() -> dict[str, int]:
    return dict(_data()["alpine_users"])


def _distroless_info(path: str, tag: str | None) -> ImageInfo | None:
    m = re.match(r"^distroless/(static|base-nossl|base|cc|python3|nodejs(\d+)?|java(\d+)?|java-base)(-debian(\d+))?$", path)
    if not m:
        return None
    name = m.group(1)
    kind = "nodejs" if name.startswith("nodejs") else ("java" if name.startswith("java") else name)
    version = m.group(2) or m.group(3)
    if kind == "python3":
        version = "3"
    tag = tag or "latest"
    known_tags = {"latest", "nonroot", "debug", "debug-nonroot"}
    dl = _data()["distroless"]
    debug = tag.startswith("debug")
    nonroot = tag.endswith("nonroot")
    return ImageInfo(
        family="distroless",
        version=version,
        variant=kind,
        distro=f"debian{m.group(5)}" if m.group(5) else None,
        libc=dl["kinds"].get(kind, {"libc": "glibc"})["libc"],
        package_manager=None,
        has_shell=debug,  # :debug tags carry a busybox shell
        default_user="nonroot" if nonroot else "root",
        users=dict(dl["users"]),
        is_full=False,
        flavor=None,
        repository=path,
        tag=tag,
        tag_understood=tag in known_tags,
        os="debian",
    )


@cache
def lookup(ref: str) -> ImageInfo | None:
    """What the catalog knows about ``ref``; None for unknown images, variables, scratch and Windows tags."""
    r = parse_image(ref)
    if r is None:
        return None
    fam = family_of(r)
    if fam is None:
        return None
    family, repo = fam
    if family == "distroless":
        return _distroless_info(repo, r.tag)
    spec = _family_spec(family)
    assert spec is not None
    tag = r.tag or "latest"
    t = _parse_tag(family, tag)
    if t.windows:
        return None
    version = t.version
    distro = t.distro
    variant: str | None = None
    flavor = t.flavor
    libc: str | None = "glibc"
    pm: str | None = "apt"
    has_shell = True
    default_user: str | None = "root"
    is_full = bool(spec.get("full"))
    os_name: str | None = "debian"
    users: dict[str, int] = dict(spec.get("users") or _debian_users())

    if family == "debian":
        codenames: dict[str, str] = _data()["debian_codenames"]
        first = t.tokens[0].lower()
        if first in codenames:
            version = codenames[first]
        elif re.match(r"^\d+(\.\d+)*$", first):
            version = first
            distro = next((c for c, n in codenames.items() if n == _major(first)), None)
        elif first in spec["aliases"]:
            version = None
            distro = spec["aliases"][first]
        variant = "slim" if t.slim else None
        distro = distro or (spec["aliases"]["latest"] if first in ("latest", "stable") else distro)
    elif family == "ubuntu":
        os_name = "ubuntu"
        codenames = _data()["ubuntu_codenames"]
        first = t.tokens[0].lower()
        if first in codenames:
            version = codenames[first]
        elif re.match(r"^\d+\.\d+(\.\d+)?$", first):
            version = first
            distro = next((c for c, n in codenames.items() if n == ".".join(first.split(".")[:2])), None)
        elif first in spec["aliases"]:
            version = None
            distro = next((c for c, n in codenames.items() if n == spec["aliases"][first]), None)
        if distro == "noble":
            users = dict(_data()["ubuntu_noble_users"])
    elif family == "alpine":
        os_name = "alpine"
        libc, pm = "musl", "apk"
        users = _alpine_users()
        first = t.tokens[0].lower()
        if re.match(r"^\d+\.\d+(\.\d+)?$", first):
            version = first
            distro = "alpine" + ".".join(first.split(".")[:2])
            t.unknown = [u for u in t.unknown if u != t.tokens[0]]
        else:
            distro = "alpine"
    else:
        if t.alpine:
            os_name = "alpine"
            libc, pm = "musl", "apk"
            users = dict(spec.get("alpine_users") or _alpine_users())
            variant = "alpine"
            is_full = False
            if family == "nginx" and t.slim:
                variant = "alpine-slim"
        elif t.slim:
            variant = "slim"
            is_full = False
        if family in ("eclipse-temurin", "openjdk", "amazoncorretto"):
            flavor = "jre" if t.java in ("jre", "headless") else "jdk"
            if variant is None:
                variant = t.java or spec.get("default_variant")
        if family == "golang" and distro is None and not t.alpine:
            distro = spec.get("default_distro_by_version", {}).get(_minor(version), spec.get("default_distro"))
        if family == "eclipse-temurin":
            os_name = "alpine" if t.alpine else "ubuntu"
            if distro in ("ubi9-minimal", "ubi8-minimal"):
                os_name, pm = "ubi", "microdnf"
        elif family == "openjdk":
            if distro is None and not t.slim:
                major = _major(version)
                if major is not None and int(major) >= int(spec["oraclelinux_from"]):
                    distro = "oraclelinux8"
            if distro and distro.startswith("oraclelinux"):
                os_name, pm, is_full = "oraclelinux", "microdnf", False
                users = {"root": 0, "bin": 1, "daemon": 2, "nobody": 65534}
        elif family == "amazoncorretto":
            if not t.alpine:
                distro = distro or "al2"
                os_name = "amazonlinux"
                pm = "dnf" if distro == "al2023" else "yum"
                users = {"root": 0, "bin": 1, "daemon": 2, "nobody": 65534}
        elif family == "dotnet":
            flavor = repo.split("/", 1)[1]
            is_full = flavor == "sdk"
            major = _major(version)
            if major is not None and int(major) >= int(spec["app_user_from"]):
                users["app"] = 1654
            if t.chiseled:
                variant, has_shell, pm, default_user = "chiseled", False, None, "app"
                users = {"root": 0, "app": 1654}
                os_name = "ubuntu"
            if distro in _UBUNTU_CODENAMES:
                os_name = "ubuntu"
        if distro is None and not t.alpine:
            distro = spec.get("default_distro")
        if distro in _UBUNTU_CODENAMES and family != "dotnet":
            os_name = "ubuntu"
    return ImageInfo(
        family=family,
        version=version,
        variant=variant,
        distro=distro,
        libc=libc,
        package_manager=pm,
        has_shell=has_shell,
        default_user=default_user,
        users=users,
        is_full=is_full,
        flavor=flavor,
        repository=repo,
        tag=tag,
        tag_understood=not t.unknown,
        os=os_name,
    )


def _minor(version: str | None) -> str | None:
    if not version:
        return None
    m = re.match(r"^(\d+\.\d+)", version)
    return m.group(1) if m else None


# --------------------------------------------------------------------------- smaller relatives


def slim_variant(ref: str) -> str | None:
    """The slim variant of a full base, keeping version, distro, libc and package manager.

    ``node:18`` → ``node:18-slim``; ``node:18-bookworm`` → ``node:18-bookworm-slim``;
    ``python:3.11-bookworm`` → ``python:3.11-slim-bookworm``; ``debian:bookworm`` →
    ``debian:bookworm-slim``; ``openjdk:11-jdk`` → ``openjdk:11-jdk-slim``. An already
    slim reference is returned unchanged. None when the family has no slim variant
    (golang, eclipse-temurin, ubuntu, alpine, ...), for alpine/distroless images, for
    tags the catalog does not fully understand, and for digest-pinned references
    (a slim tag cannot keep the pin).
    """
    r = parse_image(ref)
    info = lookup(ref)
    if r is None or info is None or not info.tag_understood:
        return None
    if info.variant == "slim":
        return ref
    if r.digest is not None:
        return None
    spec = _family_spec(info.family)
    if spec is None or not spec.get("slim"):
        return None
    if info.variant not in (None, "jdk", "jre") or (info.variant in ("jdk", "jre") and info.family != "openjdk"):
        return None
    tag = r.tag or "latest"
    tokens = tag.split("-")
    if info.family == "debian":
        if tokens[0].lower() == "latest":
            tokens[0] = "stable"
        new = "-".join(tokens) + "-slim"
    elif tag == "latest":
        new = "slim"
    elif spec["slim"] == "after_distro":
        new = tag + "-slim"
    else:  # before_distro
        t = _parse_tag(info.family, tag)
        if t.distro_index is not None:
            tokens.insert(t.distro_index, "slim")
            new = "-".join(tokens)
        else:
            new = tag + "-slim"
    out = str(r.with_tag(new))
    slim = lookup(out)
    if (
        slim is None
        or slim.variant != "slim"
        or slim.libc != info.libc
        or slim.package_manager != info.package_manager
        or slim.version != info.version
        or (r.tag is not None and slim.distro != info.distro)
    ):
        return None
    return out


def distroless_for(kind: str, version: str | None = None, nonroot: bool = False) -> str | None:
    """A distroless image of ``kind`` ("static", "base", "cc", "python3", "nodejs", "java").

    ``("nodejs", "18")`` → ``gcr.io/distroless/nodejs18-debian12``;
    ``("java", "17", True)`` → ``gcr.io/distroless/java17-debian12:nonroot``;
    ``("python3", "3.11")`` → ``gcr.io/distroless/python3-debian12`` (distroless
    python3 is Python 3.11; other minor versions give None). nodejs and java need
    a version the catalog lists; static, base and cc ignore ``version``.
    """
    dl = _data()["distroless"]
    spec = dl["kinds"].get(kind)
    if spec is None:
        return None
    name = kind
    if kind in ("nodejs", "java"):
        major = _major(version)
        if major is None or major not in spec["versions"]:
            return None
        name = f"{kind}{major}"
    elif kind == "python3":
        if version is not None and version not in ("3", spec["python"]) and not version.startswith(spec["python"] + "."):
            return None
    out = f"{dl['prefix']}{name}-debian{dl['debian']}"
    return out + ":nonroot" if nonroot else out


def jre_for(ref: str) -> str | None:
    """A JRE image for a JDK image of the same Java major version.

    ``eclipse-temurin:17-jdk`` → ``eclipse-temurin:17-jre`` (keeps the distro suffix:
    ``17-jdk-alpine`` → ``17-jre-alpine``); ``openjdk:17-jdk-slim`` →
    ``eclipse-temurin:17-jre`` (the openjdk images are deprecated and have no JRE
    for 17+); ``amazoncorretto:17`` → ``amazoncorretto:17-al2023-headless``. A JRE
    reference is returned unchanged. None when no JRE of that version is known.
    """
    r = parse_image(ref)
    info = lookup(ref)
    if r is None or info is None or not info.tag_understood:
        return None
    major = info.major
    if info.family == "eclipse-temurin":
        if info.flavor == "jre":
            return ref
        if major is None or major not in _data()["families"]["eclipse-temurin"]["jre_versions"]:
            return None
        tokens = (r.tag or "latest").split("-")
        if "jdk" in tokens:
            tokens[tokens.index("jdk")] = "jre"
        else:
            tokens.insert(1, "jre")
        return str(r.with_tag("-".join(tokens)))
    if info.family == "openjdk":
        if major is None or major not in _data()["families"]["eclipse-temurin"]["jre_versions"]:
            return None
        tag = f"{major}-jre" + ("-alpine" if info.variant == "alpine" else "")
        repo = r.repository.rsplit("/", 1)
        new_repo = (repo[0] + "/" if len(repo) == 2 else "") + "eclipse-temurin"
        return str(r.with_repository(new_repo).with_tag(tag))
    if info.family == "amazoncorretto":
        if info.flavor == "jre":
            return ref
        if major is None or major not in _data()["families"]["amazoncorretto"]["headless_versions"]:
            return None
        if info.variant == "alpine":
            return None
        return str(r.with_tag(f"{major}-al2023-headless"))
    return None


def full_image_tools() -> frozenset[str]:
    """Commands the full (buildpack-deps based) images have and no slim, distroless or plain Debian base has."""
    return frozenset(_data()["buildpack_full_tools"])


def family_label(family: str) -> str:
    """How explanations name the family's runtime (``label``: "Node.js"); the family's name when it has none."""
    spec = _family_spec(family)
    return str(spec.get("label", family)) if spec is not None else family


def tools_missing_in_slim(family: str) -> frozenset[str]:
    """Commands the family's full image has that its slim variant lacks (empty: no slim variant, or no difference)."""
    spec = _family_spec(family)
    if spec is None or not spec.get("slim") or not spec.get("full"):
        return frozenset()
    tools = set(_data()["buildpack_full_tools"]) | set(spec.get("missing_in_slim", []))
    return frozenset(tools - set(spec.get("present_in_slim", [])))


def runtime_package_for(dev_package: str, distro: str | None = "bookworm") -> str | None:
    """The runtime library package a ``-dev`` build package links against (Debian names).

    ``libpq-dev`` → ``libpq5``. ``distro`` picks the release's names (bookworm by
    default; bullseye differs for libffi, libssl, libtiff, ...). None for unknown
    packages and for build-only packages (compilers, headers) that need no runtime part.
    """
    tables: dict[str, dict[str, str | None]] = _data()["dev_to_runtime"]
    pkg = dev_package.strip().split("=", 1)[0].split(":", 1)[0]
    for d in (distro or "bookworm", "bookworm"):
        table = tables.get(d, {})
        if pkg in table:
            return table[pkg]
    return None


def is_build_only_package(package: str) -> bool:
    """Compilers, build tools and headers that a runtime stage never needs."""
    pkg = package.strip().split("=", 1)[0].split(":", 1)[0]
    return pkg in _data()["build_only_packages"]


def current_version_tag(family: str) -> str | None:
    """The tag of a family's current release, from the dated pins (``pins.json``, the one source DO303 uses too).

    None when the family has no pin, or its pin was no longer current on the day it was checked.
    """
    pin = pins.pin_for(family)
    return pin.tag if pin else None


def default_workdir(info: ImageInfo) -> str:
    """The WORKDIR an image sets itself ("/" when it sets none): golang ``/go``, php-fpm ``/var/www/html``."""
    if info.family == "distroless":
        return _data()["distroless"]["nonroot_workdir"] if "nonroot" in (info.tag or "") else "/"
    spec = _family_spec(info.family) or {}
    by_flavor: dict[str, str] = spec.get("workdir_by_flavor") or {}
    if info.flavor in by_flavor:
        return by_flavor[info.flavor]  # type: ignore[index]
    return str(spec.get("workdir") or "/")


def account_home(name: str) -> str:
    """The home folder of a user an official image carries (``/home/<name>`` unless the catalog says otherwise)."""
    homes: dict[str, str] = _data()["account_homes"]
    return homes.get(name, f"/home/{name}")

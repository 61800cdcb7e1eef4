"""The base-image catalog: parsing references and tags, and naming smaller relatives."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockeropt.catalog.images import (
    ImageRef,
    current_version_tag,
    distroless_for,
    is_build_only_package,
    jre_for,
    lookup,
    parse_image,
    runtime_package_for,
    slim_variant,
    tools_missing_in_slim,
)


def test_parse_image_parts_and_round_trip() -> None:
    r = parse_image("docker.io/library/node:18-slim@sha256:0123abcd")
    assert r == ImageRef("docker.io", "library/node", "18-slim", "sha256:0123abcd")
    assert str(r) == "docker.io/library/node:18-slim@sha256:0123abcd"
    assert str(parse_image("node")) == "node"
    assert parse_image("localhost:5000/team/app:1.2") == ImageRef("localhost:5000", "team/app", "1.2", None)
    assert parse_image("registry.example:443/app") == ImageRef("registry.example:443", "app", None, None)


@pytest.mark.parametrize("ref", ["scratch", "$BASE", "node:${NODE_VERSION}", "${REGISTRY}/node:18", "", "node:"])
def test_parse_image_refuses_variables_scratch_and_junk(ref: str) -> None:
    assert parse_image(ref) is None
    assert lookup(ref) is None


def test_with_tag_drops_the_digest_and_keeps_the_spelling() -> None:
    r = parse_image("docker.io/library/node:18@sha256:0123abcd")
    assert r is not None
    assert str(r.with_tag("18-slim")) == "docker.io/library/node:18-slim"


@pytest.mark.parametrize(
    ("ref", "family", "version", "variant", "distro", "libc", "pm", "full"),
    [
        ("node:18", "node", "18", None, "bookworm", "glibc", "apt", True),
        ("node:18-bullseye-slim", "node", "18", "slim", "bullseye", "glibc", "apt", False),
        ("node:hydrogen-alpine", "node", "18", "alpine", "alpine", "musl", "apk", False),
        ("docker.io/library/python:3.11.4-slim-bookworm", "python", "3.11.4", "slim", "bookworm", "glibc", "apt", False),
        ("golang:1.19", "golang", "1.19", None, "bullseye", "glibc", "apt", True),
        ("golang:1.22-alpine3.19", "golang", "1.22", "alpine", "alpine3.19", "musl", "apk", False),
        ("eclipse-temurin:17-jre-jammy", "eclipse-temurin", "17", "jre", "jammy", "glibc", "apt", False),
        ("eclipse-temurin:21-jdk-ubi9-minimal", "eclipse-temurin", "21", "jdk", "ubi9-minimal", "glibc", "microdnf", False),
        ("openjdk:17", "openjdk", "17", "jdk", "oraclelinux8", "glibc", "microdnf", False),
        ("openjdk:17-jdk-slim", "openjdk", "17", "slim", "bullseye", "glibc", "apt", False),
        ("amazoncorretto:21-al2023", "amazoncorretto", "21", "jdk", "al2023", "glibc", "dnf", False),
        ("rust:1.75", "rust", "1.75", None, "bookworm", "glibc", "apt", True),
        ("ruby:3.2-alpine", "ruby", "3.2", "alpine", "alpine", "musl", "apk", False),
        ("php:8.2-apache", "php", "8.2", None, "bookworm", "glibc", "apt", False),
        ("mcr.microsoft.com/dotnet/sdk:8.0", "dotnet", "8.0", None, "bookworm", "glibc", "apt", True),
        ("debian:bookworm", "debian", "12", None, "bookworm", "glibc", "apt", False),
        ("debian:11-slim", "debian", "11", "slim", "bullseye", "glibc", "apt", False),
        ("ubuntu:22.04", "ubuntu", "22.04", None, "jammy", "glibc", "apt", False),
        ("alpine:3.19.1", "alpine", "3.19.1", None, "alpine3.19", "musl", "apk", False),
        ("nginx:1.25-alpine", "nginx", "1.25", "alpine", "alpine", "musl", "apk", False),
        ("gcr.io/distroless/static-debian12:nonroot", "distroless", None, "static", "debian12", None, None, False),
        ("gcr.io/distroless/java17-debian12", "distroless", "17", "java", "debian12", "glibc", None, False),
    ],
)
def test_lookup_facts(
    ref: str, family: str, version: str | None, variant: str | None, distro: str | None, libc: str | None, pm: str | None, full: bool
) -> None:
    info = lookup(ref)
    assert info is not None
    assert (info.family, info.version, info.variant, info.distro, info.libc, info.package_manager, info.is_full) == (
        family,
        version,
        variant,
        distro,
        libc,
        pm,
        full,
    )
    assert info.tag_understood


def test_users_and_shells() -> None:
    node = lookup("node:18")
    assert node is not None and node.users["node"] == 1000 and node.default_user == "root" and node.has_shell
    py = lookup("python:3.11-slim")
    assert py is not None and "node" not in py.users and "nonroot" not in py.users
    dl = lookup("gcr.io/distroless/nodejs18-debian12")
    assert dl is not None and dl.users["nonroot"] == 65532 and dl.default_user == "root" and not dl.has_shell
    dl_nr = lookup("gcr.io/distroless/nodejs18-debian12:nonroot")
    assert dl_nr is not None and dl_nr.default_user == "nonroot"
    debug = lookup("gcr.io/distroless/base-debian12:debug")
    assert debug is not None and debug.has_shell
    chiseled = lookup("mcr.microsoft.com/dotnet/aspnet:8.0-jammy-chiseled")
    assert chiseled is not None and not chiseled.has_shell and chiseled.default_user == "app"


@pytest.mark.parametrize(
    "ref", ["bitnami/node:18", "localhost:5000/node:18", "python:3.11-windowsservercore-ltsc2022", "myorg/python:3.11"]
)
def test_unknown_images_are_not_guessed(ref: str) -> None:
    assert lookup(ref) is None
    assert slim_variant(ref) is None


def test_unknown_tag_parts_are_flagged() -> None:
    info = lookup("node:18-custombuild")
    assert info is not None and not info.tag_understood
    assert slim_variant("node:18-custombuild") is None


@pytest.mark.parametrize(
    ("ref", "slim"),
    [
        ("node:18", "node:18-slim"),
        ("node:18-bookworm", "node:18-bookworm-slim"),
        ("node:18.17.1-bullseye", "node:18.17.1-bullseye-slim"),
        ("node", "node:slim"),
        ("python:3.11", "python:3.11-slim"),
        ("python:3.11-bookworm", "python:3.11-slim-bookworm"),
        ("docker.io/library/python:3.11", "docker.io/library/python:3.11-slim"),
        ("ruby:3.2-bullseye", "ruby:3.2-slim-bullseye"),
        ("rust:1.75", "rust:1.75-slim"),
        ("debian:bookworm", "debian:bookworm-slim"),
        ("debian:12", "debian:12-slim"),
        ("openjdk:11-jdk", "openjdk:11-jdk-slim"),
        ("node:18-slim", "node:18-slim"),
    ],
)
def test_slim_variant(ref: str, slim: str) -> None:
    assert slim_variant(ref) == slim


@pytest.mark.parametrize(
    "ref",
    [
        "golang:1.19",  # no slim variant
        "eclipse-temurin:17-jdk",
        "ubuntu:22.04",
        "alpine:3.19",
        "node:18-alpine",  # never Alpine <-> Debian
        "openjdk:17",  # oraclelinux: the slim tag is Debian, another package manager
        "node:18@sha256:0123abcd",  # a slim tag cannot keep the pin
        "gcr.io/distroless/nodejs18-debian12",
    ],
)
def test_no_slim_variant(ref: str) -> None:
    assert slim_variant(ref) is None


def test_distroless_for() -> None:
    assert distroless_for("nodejs", "18") == "gcr.io/distroless/nodejs18-debian12"
    assert distroless_for("nodejs", "20.11.1") == "gcr.io/distroless/nodejs20-debian12"
    assert distroless_for("nodejs", "16") is None
    assert distroless_for("nodejs") is None
    assert distroless_for("java", "17", True) == "gcr.io/distroless/java17-debian12:nonroot"
    assert distroless_for("java", "11") is None
    assert distroless_for("static", nonroot=True) == "gcr.io/distroless/static-debian12:nonroot"
    assert distroless_for("cc") == "gcr.io/distroless/cc-debian12"
    assert distroless_for("python3", "3.11") == "gcr.io/distroless/python3-debian12"
    assert distroless_for("python3", "3.12") is None  # distroless python3 is 3.11
    assert distroless_for("ruby") is None


@pytest.mark.parametrize(
    ("ref", "jre"),
    [
        ("eclipse-temurin:17-jdk", "eclipse-temurin:17-jre"),
        ("eclipse-temurin:17", "eclipse-temurin:17-jre"),
        ("eclipse-temurin:17-jdk-alpine", "eclipse-temurin:17-jre-alpine"),
        ("eclipse-temurin:17.0.8_7-jdk-jammy", "eclipse-temurin:17.0.8_7-jre-jammy"),
        ("eclipse-temurin:21-jre", "eclipse-temurin:21-jre"),
        ("openjdk:17-jdk-slim", "eclipse-temurin:17-jre"),
        ("openjdk:8-jdk-alpine", "eclipse-temurin:8-jre-alpine"),
        ("amazoncorretto:17", "amazoncorretto:17-al2023-headless"),
    ],
)
def test_jre_for(ref: str, jre: str) -> None:
    assert jre_for(ref) == jre


def test_jre_for_unknown_versions() -> None:
    assert jre_for("openjdk:14-jdk") is None  # no Temurin JRE for 14
    assert jre_for("node:18") is None


def test_tools_missing_in_slim() -> None:
    node = tools_missing_in_slim("node")
    assert {"git", "gcc", "g++", "make", "curl", "wget", "python3"} <= node
    assert "node" not in node and "npm" not in node
    py = tools_missing_in_slim("python")
    assert {"git", "gcc", "make", "curl"} <= py and "python3" not in py and "pip" not in py
    assert "gcc" not in tools_missing_in_slim("rust")  # rust:slim keeps the C compiler for linking
    assert tools_missing_in_slim("debian") == frozenset()  # bookworm-slim only drops docs and locales
    assert tools_missing_in_slim("golang") == frozenset()  # no slim variant at all


@pytest.mark.parametrize(
    ("dev", "runtime"),
    [
        ("libpq-dev", "libpq5"),
        ("libjpeg-dev", "libjpeg62-turbo"),
        ("libxml2-dev", "libxml2"),
        ("libxslt1-dev", "libxslt1.1"),
        ("libffi-dev", "libffi8"),
        ("libssl-dev", "libssl3"),
        ("zlib1g-dev", "zlib1g"),
        ("libpng-dev", "libpng16-16"),
        ("default-libmysqlclient-dev", "libmariadb3"),
        ("libmariadb-dev", "libmariadb3"),
        ("libsqlite3-dev", "libsqlite3-0"),
        ("libyaml-dev", "libyaml-0-2"),
        ("libgeos-dev", "libgeos-c1v5"),
        ("libpq-dev=15.5-0+deb12u1", "libpq5"),
    ],
)
def test_runtime_package_for(dev: str, runtime: str) -> None:
    assert runtime_package_for(dev) == runtime


def test_runtime_package_per_release_and_unknowns() -> None:
    assert runtime_package_for("libffi-dev", "bullseye") == "libffi7"
    assert runtime_package_for("libpq-dev", "bullseye") == "libpq5"  # falls back to the shared name
    assert runtime_package_for("gcc") is None and is_build_only_package("gcc")
    assert runtime_package_for("libwhatever-dev") is None and not is_build_only_package("libwhatever-dev")


def test_current_version_tag_is_the_dated_pin() -> None:
    # one source for "the current release" (issue 11: a stale "current" in images.json downgraded by a year)
    from dockeropt.catalog import pins

    for family in ("node", "python", "debian", "nginx", "golang"):
        pin = pins.pin_for(family)
        assert pin is not None and current_version_tag(family) == pin.tag, family
    assert current_version_tag("nope") is None
    assert '"current"' not in (Path(current_version_tag.__code__.co_filename).parent / "images.json").read_text()

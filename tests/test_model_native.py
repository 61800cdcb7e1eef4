"""The model's native-dependency facts (optimizer/model/native.py) and ecosystem catalog (optimizer/model/ecosystems.py)."""

from __future__ import annotations

import json
from pathlib import Path

from dockeropt.catalog.images import lookup
from dockeropt.context import BuildContext
from dockeropt.model import ecosystems as eco
from dockeropt.model.native import go_cgo, node_dependencies, python_dependencies, ruby_dependencies


def _ctx(tmp_path: Path, files: dict[str, str]) -> BuildContext:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return BuildContext(tmp_path)


def test_requirements_follow_includes_and_no_binary(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "-r base.txt\nflask\n", "base.txt": "--no-binary lxml\nlxml==5\npsycopg2==2.9\n"})
    deps = python_dependencies(ctx, ["requirements.txt"])
    assert {"flask", "lxml", "psycopg2"} <= deps.names
    compiled = {d.name: d for d in deps.compiles}
    assert set(compiled) == {"lxml", "psycopg2"}  # lxml only because of --no-binary
    assert "libpq5" in deps.runtime_packages() and "libxml2" in deps.runtime_packages()
    assert compiled["psycopg2"].build == ("libpq-dev", "gcc")


def test_lockfiles_show_a_release_without_wheels(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {
        "poetry.lock": '[[package]]\nname = "rare"\nversion = "1"\nfiles = [\n {file = "rare-1.tar.gz"},\n]\n\n'
                       '[[package]]\nname = "flask"\nversion = "3"\nfiles = [\n {file = "flask-3-py3-none-any.whl"},\n]\n',
        "uv.lock": '[[package]]\nname = "shop"\nsource = { editable = "." }\n\n[[package]]\nname = "odd"\nsdist = { url = "x" }\n',
        "Pipfile.lock": json.dumps({"default": {"mysqlclient": {}}, "develop": {"psycopg2": {}}}),
    })
    assert [d.name for d in python_dependencies(ctx, ["poetry.lock"]).compiles] == ["rare"]
    assert [d.name for d in python_dependencies(ctx, ["uv.lock"]).compiles] == ["odd"]  # the project itself is not a dependency
    assert [d.name for d in python_dependencies(ctx, ["Pipfile.lock"]).compiles] == ["mysqlclient"]  # develop only with --dev
    assert {d.name for d in python_dependencies(ctx, ["Pipfile.lock"], with_dev=True).compiles} == {"mysqlclient", "psycopg2"}


def test_apk_names_for_alpine(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2\n"})
    d = python_dependencies(ctx, ["requirements.txt"], package_manager="apk").compiles[0]
    assert d.runtime == ("libpq",) and "postgresql-dev" in d.build


def test_unreadable_and_local_projects_are_unknown(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {})
    assert python_dependencies(ctx, ["missing.txt"]).unknown
    assert python_dependencies(ctx, [], ["./"]).unknown
    assert python_dependencies(ctx, [], ["git+https://example/x.git"]).git


def test_node_native_modules_and_install_scripts(tmp_path: Path) -> None:
    lock = {"packages": {"": {}, "node_modules/bcrypt": {"hasInstallScript": True}, "node_modules/esbuild": {"hasInstallScript": True},
                         "node_modules/weird": {"hasInstallScript": True}}}
    ctx = _ctx(tmp_path, {"package.json": json.dumps({"dependencies": {"canvas": "2", "x": "file:../x"}}), "package-lock.json": json.dumps(lock)})
    deps = node_dependencies(ctx, ".")
    names = {d.name for d in deps.compiles}
    assert {"canvas", "bcrypt", "weird"} <= names and "esbuild" not in names  # esbuild's install script only unpacks a binary
    assert "libcairo2" in deps.runtime_packages()
    assert any("local package" in u for u in deps.unknown)


def test_gems_precompiled_for_linux_do_not_compile(tmp_path: Path) -> None:
    lock = "GEM\n  remote: https://x/\n  specs:\n    pg (1.5.4)\n    nokogiri (1.16.5-x86_64-linux)\n\nPLATFORMS\n  x86_64-linux\n"
    deps = ruby_dependencies(_ctx(tmp_path, {"Gemfile.lock": lock}), ".")
    assert [d.name for d in deps.compiles] == ["pg"] and deps.runtime_packages() == ["libpq5"]


def test_go_cgo_from_go_mod_go_sum_sources_and_env(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"go.mod": "module x\n\nrequire github.com/mattn/go-sqlite3 v1.14.22\n", "main.go": "package main\n"})
    facts = go_cgo(ctx, ".", None)
    assert facts.needed is True and "go-sqlite3" in facts.reasons[0]
    assert go_cgo(ctx, ".", "0").needed is False  # the user said so
    ctx2 = _ctx(tmp_path / "b", {"go.mod": "module y\n", "go.sum": "github.com/confluentinc/confluent-kafka-go/v2 v2.3.0 h1:x\n",
                                 "main.go": "package main\n"})
    assert go_cgo(ctx2, ".", None).needed is True  # an indirect module, only in go.sum
    ctx3 = _ctx(tmp_path / "c", {"go.mod": "module z\n", "main.go": 'package main\n\nimport "C"\n', "vendor/a/b.c": ""})
    assert go_cgo(ctx3, ".", None).needed is True
    ctx4 = _ctx(tmp_path / "d", {"go.mod": "module w\n", "main.go": "package main\n"})
    assert go_cgo(ctx4, ".", None).needed is False
    assert go_cgo(None, ".", None).needed is None  # in doubt: keep cgo


def test_toolchain_images_and_runtime_libraries() -> None:
    assert eco.is_toolchain(lookup("node:18")) and not eco.is_toolchain(lookup("node:18-slim"))
    assert eco.is_toolchain(lookup("eclipse-temurin:17-jdk")) and not eco.is_toolchain(lookup("eclipse-temurin:17-jre"))
    assert eco.is_toolchain(lookup("mcr.microsoft.com/dotnet/sdk:8.0")) and not eco.is_toolchain(lookup("mcr.microsoft.com/dotnet/aspnet:8.0"))
    assert eco.runtime_libraries("libpq-dev", "apt", "bookworm") == ("libpq5",)
    assert eco.runtime_libraries("libffi-dev", "apt", "bullseye") == ("libffi7",)
    assert eco.runtime_libraries("postgresql-dev", "apk", None) == ("libpq",)
    assert eco.runtime_libraries("build-base", "apk", None) == ()
    assert eco.runtime_libraries("tzdata", "apt", "bookworm") == ("tzdata",)
    assert eco.runtime_libraries("libunknown-dev", "apt", "bookworm") is None
    assert eco.tool_packages("curl", "apt") == ("curl", "ca-certificates")
    assert eco.compiled_runtime("golang", "static", "bookworm", True) == "gcr.io/distroless/static-debian12:nonroot"
    assert eco.compiled_runtime("rust", "shell", "bookworm") == "debian:bookworm-slim"


def test_a_dependency_that_downloads_outside_the_project(tmp_path: Path) -> None:
    # puppeteer's install script puts Chrome in ~/.cache/puppeteer: catalog installs_outside
    ctx = _ctx(tmp_path, {"package.json": '{"dependencies": {"puppeteer": "21.5.0", "express": "4.18.2"}}'})
    deps = node_dependencies(ctx, ".")
    (d,) = [d for d in deps.native if d.name == "puppeteer"]
    assert (d.compiles, d.outside) == (False, "${PUPPETEER_CACHE_DIR:-~/.cache/puppeteer}")
    assert not [d for d in deps.native if d.name == "express"]
